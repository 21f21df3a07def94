"""A training run that can stop and go on: the step counter, what a resumed run restores, Ctrl-C
and divergence. Each answer's training loop hands its pieces to a ``Run``::

    run = gendojo.Run.of(run, config)                  # main's run, or a fresh one
    stream = run.stream(batches(data.images, config))  # counted: a resumed run skips what was used
    noise = run.noise(np.random.default_rng(seed))     # its state is saved and restored
    history = run.history({"loss": []})                # a resumed run's lists start filled
    for step in run.steps(optimizer, "ae pytorch"):    # from the step reached, with a progress bar
        ...

A resumed run (``--resume``, see ``gendojo.outputs.train_and_save``) gets back, when ``steps``
starts: the optimizers' state, the step, the history, the positions of the data streams (by
drawing and dropping the batches the stopped run used, so the next batch is the one it would have
drawn: about half a millisecond a batch, 0.8 s for the 2000 of a default DCGAN run), the
registered noise generators, and the global random states of Python, NumPy and
PyTorch (Chainer's dropout and the PyTorch VAE draw from them). N steps, then ``--resume`` to
N + M, give the history one run of N + M steps gives.

After every step the run checks that each loss is finite, and stops after the step during which
Ctrl-C was pressed (``stop_on_ctrl_c``).
"""

import dataclasses
import inspect
import math
import random
import signal
import sys
import threading
from contextlib import contextmanager

import numpy as np

from gendojo import checkpoints
from gendojo.cli import progress, validate
from gendojo.errors import GenDojoError

# Settings a resumed run may change: how long and how it runs, and training hyperparameters.
# Everything else (the data, the networks' shapes, the batch size, the seed) must stay the same.
MAY_CHANGE = (
    "steps", "lr", "beta1", "beta", "clip", "n_critic", "l1_weight", "diversity_every",
    "sample_every", "quiet", "out", "device", "resume", "data_dir", "class_id", "latent_plots",
)  # fmt: skip


class Diverged(GenDojoError):
    """A loss turned NaN or infinite; the message names the step and the usual causes."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run after it saved what it had done (``gendojo.run_main`` exits 130)."""


class Stream:
    """An iterator that counts what it hands out, so a resumed run can skip as many items."""

    def __init__(self, iterator):
        self.iterator, self.drawn = iter(iterator), 0

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self.iterator)
        self.drawn += 1
        return item

    def skip(self, count):
        for _ in range(count):
            next(self)


def accepts_run(train):
    """Whether ``train`` takes ``run=``: answers written before resumable runs do not."""
    try:
        return "run" in inspect.signature(train).parameters
    except (TypeError, ValueError):
        return False


class Run:
    """One training run: its step, history, streams, noise, optimizers and checkpoints.

    ``checkpoint`` (from ``gendojo.checkpoints.read``) makes it a resumed run; ``out`` is where
    ``save`` writes checkpoints (none: the run is not saved, as in the grading harness).
    """

    def __init__(self, config, out=None, topic=None, framework=None, checkpoint=None):
        self.config, self.out, self.topic, self.framework = config, out, topic, framework
        self.checkpoint = checkpoint
        self.saved = checkpoint["state"] if checkpoint else None
        self.step = self.saved["step"] if self.saved else 0  # steps done
        self.checkpoint_step = self.step if checkpoint else None  # of the newest checkpoint on disk
        self.resumed_at = [*self.saved.get("resumed_at", []), self.step] if self.saved else []
        self.seconds_before = (self.saved.get("seconds") or 0.0) if self.saved else 0.0
        self.optimizers, self.streams, self.noises = {}, [], []
        self.logged = None  # the loop's history dict, once ``history`` has it
        self.interrupted = False
        self._checked, self._saved_step = self.step, None

    @classmethod
    def of(cls, run, config):
        """``run`` if ``main`` passed one, else a fresh run of ``config`` (a direct ``train`` call)."""
        if run is not None:
            return run
        validate(config)
        return cls(config)

    # --- what the training loop hands over -------------------------------------------------------

    def stream(self, iterator):
        """Count the batches drawn from ``iterator``, so a resumed run can skip as many."""
        stream = Stream(iterator)
        self.streams.append(stream)
        return stream

    def noise(self, generator):
        """Save and restore ``generator``'s state: a NumPy ``Generator``, a ``tf.random.Generator``
        or a ``keras.random.SeedGenerator``. Restored when ``steps`` starts, so numbers drawn before
        (a fixed batch of noise for the sample grids) are drawn as in the first run."""
        self.noises.append(generator)
        return generator

    def history(self, history):
        """The loop's history dict; in a resumed run its lists start with the stopped run's values."""
        if self.saved:
            saved = self.saved.get("history", {})
            if sorted(saved) != sorted(history):
                raise GenDojoError(
                    f"--resume: the checkpoint records {sorted(saved)}, this answer {sorted(history)}"
                )
            for name, values in history.items():
                values[:] = saved[name]
        self.logged = history
        return history

    def steps(self, optimizers, description=""):
        """Yield the index of each step still to do, from the step reached to ``config.steps``.

        ``optimizers`` (one, or a dict of them) are saved with each checkpoint and, in a resumed
        run, restored here along with the streams, the noise and the global random states.
        """
        self.optimizers = optimizers if isinstance(optimizers, dict) else {"optimizer": optimizers}
        if self.logged is None:
            raise TypeError("call run.history(...) before run.steps(...)")
        if self.saved:
            self._restore()
        steps = progress(self.config.steps, self.logged, description, self.config.quiet, self.step)
        try:
            for index in steps:
                yield index
                self.end_step(index)
                if self.interrupted:
                    break
        finally:
            steps.close()

    # --- the end of a step -----------------------------------------------------------------------

    def end_step(self, index):
        """Count step ``index`` as done and check its losses (once, however often it is called)."""
        if index + 1 <= self._checked:
            return
        self.step = self._checked = index + 1
        if self.logged is None:
            return
        bad = {
            name: values[-1]
            for name, values in self.logged.items()
            if len(values) == self.step and not math.isfinite(float(values[-1]))
        }
        if bad:
            raise Diverged(self._divergence(bad))

    def _divergence(self, bad):
        losses = ", ".join(f"{name} is {value}" for name, value in bad.items())
        lr = getattr(self.config, "lr", None)
        causes = (
            f"a learning rate too high (--lr {lr:g}: try a tenth)" if lr else "a learning rate too high"
        ) + (
            ", images not scaled to [-1, 1], a missing normalisation (BatchNorm), a log or a division "
            "of 0 in a loss, or one network of a GAN overpowering the other"
        )
        if self.out is None:
            kept = ""
        elif self.checkpoint_step is None:
            kept = "; no checkpoint was written before it (--sample-every sets how often one is)"
        else:
            kept = (
                f"; the last good checkpoint (step {self.checkpoint_step}) is kept in "
                f"{checkpoints.folder_of(self.out)}"
            )
        return f"training diverged at step {self.step}: {losses}. Usual causes: {causes}{kept}"

    # --- saving and restoring ----------------------------------------------------------------------

    def state(self, seconds=0.0):
        """What ``run.json`` records besides the networks and optimizers."""
        from gendojo.outputs import _plain

        return {
            "step": self.step,
            "topic": self.topic,
            "framework": self.framework,
            "config": _plain(self.config),
            "history": _plain(self.logged or {}),
            "streams": [stream.drawn for stream in self.streams],
            "noise": [_noise_state(generator) for generator in self.noises],
            "random": _global_random_states(),
            "seconds": round(self.seconds_before + seconds, 3),
            "resumed_at": self.resumed_at,
        }

    def save(self, networks, seconds=0.0):
        """Write a checkpoint of the steps done so far (atomically: see gendojo/checkpoints.py),
        unless this run has just written the one of this step."""
        if self._saved_step != self.step:
            checkpoints.write(self.out, networks, self.optimizers, self.state(seconds))
            self.checkpoint_step = self._saved_step = self.step
        return checkpoints.folder_of(self.out)

    def _restore(self):
        checkpoints.load_optimizers(self.optimizers, self.checkpoint)
        counts, states = self.saved.get("streams", []), self.saved.get("noise", [])
        if len(counts) != len(self.streams) or len(states) != len(self.noises):
            raise GenDojoError(
                f"--resume: the checkpoint has {len(counts)} data streams and {len(states)} noise "
                f"generators, this answer {len(self.streams)} and {len(self.noises)}"
            )
        for stream, count in zip(self.streams, counts, strict=True):
            stream.skip(count)  # the same batches in the same order: the next one is the one due
        for generator, state in zip(self.noises, states, strict=True):
            _set_noise_state(generator, state)
        _set_global_random_states(self.saved.get("random", {}))
        self.saved = None  # restored once


def check_resume(config, checkpoint, topic, framework):
    """Refuse a ``--resume`` that would not continue the same run; return the changed settings."""
    state, where = checkpoint["state"], checkpoint["folder"].parent
    if state.get("step") is None:
        raise GenDojoError(
            f"--resume: {where} holds weights only (gendojo.save_checkpoint), not a run to continue"
        )
    if (state.get("topic"), state.get("framework")) != (topic, framework):
        raise GenDojoError(
            f"--resume: the checkpoint in {where} was written by {state.get('topic')} "
            f"{state.get('framework')}, not {topic} {framework}; use another --out"
        )
    saved, now = state.get("config") or {}, _plain_config(config)
    fixed = [name for name in now if name not in MAY_CHANGE and name in saved and saved[name] != now[name]]
    if fixed:
        was = ", ".join(f"{_flag(name)} {saved[name]!r}" for name in fixed)
        raise GenDojoError(
            f"--resume: the run in {where} was trained with {was}; resume with the same settings "
            f"(or start a new run with another --out)"
        )
    if state["step"] >= config.steps:
        raise GenDojoError(
            f"--resume: the run in {where} has done {state['step']} steps, and --steps "
            f"{config.steps} asks for no more; pass a larger --steps (the total)"
        )
    return {name: (saved[name], now[name]) for name in now if name in saved and saved[name] != now[name]}


def describe_changes(changed):
    shown = {k: v for k, v in changed.items() if k not in ("resume", "steps", "quiet", "out")}
    return ", ".join(f"{_flag(name)} {new!r} (was {old!r})" for name, (old, new) in shown.items())


def _plain_config(config):
    from gendojo.outputs import _plain

    return _plain(config) if dataclasses.is_dataclass(config) else {}


def _flag(name):
    return "--" + name.replace("_", "-")


@contextmanager
def stop_on_ctrl_c(run):
    """While inside, Ctrl-C (SIGINT) asks ``run`` to stop after its current step; a second
    Ctrl-C stops at once. Outside the main thread (where Python delivers no signals) it does
    nothing."""
    if run is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def ask_to_stop(signum, frame):
        if run.interrupted:
            raise KeyboardInterrupt
        run.interrupted = True
        print(
            "\nCtrl-C: stopping after this step to save it (Ctrl-C again stops at once)",
            file=sys.stderr,
            flush=True,
        )

    previous = signal.signal(signal.SIGINT, ask_to_stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# --- random states ---------------------------------------------------------------------------------


def _noise_state(generator):
    if isinstance(generator, np.random.Generator):
        return {"numpy": generator.bit_generator.state}
    state = generator.state  # tf.random.Generator and keras.random.SeedGenerator: a variable
    return {"variable": checkpoints._numpy(state).tolist()}


def _set_noise_state(generator, state):
    if isinstance(generator, np.random.Generator):
        generator.bit_generator.state = state["numpy"]
    else:
        variable = generator.state
        dtype = getattr(variable.dtype, "as_numpy_dtype", variable.dtype)  # TensorFlow's dtypes
        variable.assign(np.asarray(state["variable"], dtype=np.dtype(dtype)))


def _global_random_states():
    """Python's, NumPy's and (if imported) PyTorch's global generators. TensorFlow's global
    generator (``tf.random.normal`` without a Generator) cannot be read back: answers use
    ``tf.random.Generator`` for the randomness a resumed run must repeat."""
    name, keys, position, has_gauss, gauss = np.random.get_state()
    version, internal, cached = random.getstate()
    states = {
        "python": [version, list(internal), cached],
        "numpy": [name, keys.tolist(), position, has_gauss, gauss],
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        states["torch"] = torch.get_rng_state().tolist()
        device = _torch_accelerator(torch)
        if device is not None:
            states["accelerator"] = [s.tolist() for s in device.get_rng_state_all()]
    return states


def _torch_accelerator(torch):
    """The device module (``torch.cuda``, …) of an accelerator that has been used, or None. An
    accelerator whose module cannot read all its generators back (``torch.mps``) keeps its own:
    dropout on it is not repeated exactly by a resumed run."""
    try:
        accelerator = torch.accelerator.current_accelerator(check_available=True)
        module = torch.get_device_module(accelerator.type) if accelerator else None
    except (AttributeError, RuntimeError):
        return None
    if module is None or not hasattr(module, "get_rng_state_all"):
        return None
    if hasattr(module, "is_initialized") and not module.is_initialized():
        return None
    return module


def _set_global_random_states(states):
    if "python" in states:
        version, internal, cached = states["python"]
        random.setstate((version, tuple(internal), cached))
    if "numpy" in states:
        name, keys, position, has_gauss, gauss = states["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), position, has_gauss, gauss))
    torch = sys.modules.get("torch")
    if torch is not None and "torch" in states:
        torch.set_rng_state(torch.tensor(states["torch"], dtype=torch.uint8))
        device = _torch_accelerator(torch)
        if device is not None and "accelerator" in states:
            device.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in states["accelerator"]])
