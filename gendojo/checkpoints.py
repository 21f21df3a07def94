"""Checkpoints that survive a crash: a run's networks, optimizers, step and random streams on disk.

The layout of ``<out>/checkpoint/``::

    latest.json                   which folder holds the checkpoint, with its step and config
    step000300/                   the checkpoint after 300 steps
        encoder.pt, …             each network in its framework's format (weights, BatchNorm statistics)
        optimizer.pt              the optimizer's state (Adam's moments, step counts), same format
                                  (optimizer-<network>.pt, … where each network has its own)
        run.json                  step, config, history, data and noise stream positions, random states

A checkpoint is written into a hidden temporary folder, flushed to disk and renamed; only then is
``latest.json`` replaced, by writing a temporary file and renaming it over the old one. Each
rename is atomic, so a process killed at any moment, even by SIGKILL, leaves ``latest.json``
naming a complete folder: the new one or the one before. The next write removes the leftovers.

The flushes (fsync) guard against a power cut as well; ``GENDOJO_FSYNC=0`` leaves them out (the
tests do, on disks where each one takes tens of milliseconds): a killed process still cannot break
a checkpoint, since the renames alone decide which folder ``latest.json`` names.

Formats are the frameworks' own: ``torch.save`` of ``state_dict()`` (PyTorch), ``tf.train.Checkpoint``
(TensorFlow), ``save_weights`` and the optimizer's variables (Keras), ``chainer.serializers.save_npz``
(Chainer). Nothing here imports a framework the caller has not already imported.
"""

import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from gendojo.errors import GenDojoError

MANIFEST = "latest.json"
STATE = "run.json"
SUFFIX = {"pytorch": ".pt", "tensorflow": "", "keras": ".weights.h5", "chainer": ".npz"}


def folder_of(out):
    return Path(out) / "checkpoint"


# --- one network or optimizer, in its framework's format -------------------------------------------


def _framework(thing):
    from gendojo.frameworks import framework_of

    return framework_of(thing)


def save_network(network, base):
    """Write one network to ``base`` + its framework's suffix; return the file name."""
    framework = _framework(network)
    path = Path(str(base) + SUFFIX[framework])
    if framework == "pytorch":
        sys.modules["torch"].save(network.state_dict(), path)
    elif framework == "tensorflow":
        sys.modules["tensorflow"].train.Checkpoint(network=network).write(str(path))
    elif framework == "keras":
        network.save_weights(str(path))
        # a Dropout layer's random state is a variable, but not a weight save_weights writes
        _save_arrays(Path(str(base) + ".random.npz"), _keras_seed_states(network))
    else:
        sys.modules["chainer"].serializers.save_npz(str(path), network)
    return path.name


def load_network(network, base):
    framework = _framework(network)
    path = Path(str(base) + SUFFIX[framework])
    exists = Path(str(path) + ".index").exists() if framework == "tensorflow" else path.exists()
    if not exists:
        raise FileNotFoundError(path)
    if framework == "pytorch":
        network.load_state_dict(sys.modules["torch"].load(path, map_location="cpu"))
    elif framework == "tensorflow":
        tf = sys.modules["tensorflow"]
        tf.train.Checkpoint(network=network).read(str(path)).assert_existing_objects_matched()
    elif framework == "keras":
        network.load_weights(str(path))
        random_states = Path(str(base) + ".random.npz")
        if random_states.exists():
            _assign_all(_keras_seed_states(network), _load_arrays(random_states), str(random_states))
    else:
        sys.modules["chainer"].serializers.load_npz(str(path), network)


def _keras_seed_states(network):
    """The state variables of the seed generators inside a Keras model (Dropout's, for one)."""
    return [v for v in network.variables if v.path.endswith("seed_generator_state")]


def optimizer_framework(optimizer):
    module = type(optimizer).__module__.split(".")[0]
    if module == "torch":
        return "pytorch"
    if module == "chainer":
        return "chainer"
    if module == "keras" or "keras" in {c.__module__.split(".")[0] for c in type(optimizer).__mro__}:
        return "keras"
    return "tensorflow"  # gendojo.tf_core's optimizers: tf.Modules


def save_optimizer(optimizer, base):
    """Write an optimizer's state (not its settings: those come from the config) next to ``base``."""
    framework = optimizer_framework(optimizer)
    if framework == "pytorch":
        path = Path(str(base) + ".pt")
        sys.modules["torch"].save(optimizer.state_dict(), path)
    elif framework == "tensorflow":
        path = Path(str(base))
        _tf_state(optimizer).write(str(path))
    elif framework == "keras":
        path = Path(str(base) + ".npz")
        _save_arrays(path, optimizer.variables)
    else:
        path = Path(str(base) + ".npz")
        sys.modules["chainer"].serializers.save_npz(str(path), optimizer)
    return path.name


def load_optimizer(optimizer, base):
    """Restore an optimizer's state written by ``save_optimizer``. The learning rate and other
    settings stay those the optimizer was made with, so a resumed run may change ``--lr``."""
    framework = optimizer_framework(optimizer)
    if framework == "pytorch":
        settings = [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
        optimizer.load_state_dict(sys.modules["torch"].load(Path(str(base) + ".pt"), map_location="cpu"))
        for group, kept in zip(optimizer.param_groups, settings, strict=True):
            group.update(kept)
    elif framework == "tensorflow":
        _tf_state(optimizer).read(str(base)).assert_existing_objects_matched()
    elif framework == "keras":
        _restore_keras_optimizer(optimizer, _load_arrays(Path(str(base) + ".npz")), str(base))
    else:
        sys.modules["chainer"].serializers.load_npz(str(base) + ".npz", optimizer)


def _tf_state(optimizer):
    """A ``tf.train.Checkpoint`` of an optimizer's own variables (step count, moments), without the
    networks' variables it trains (those are in the networks' files) and without its learning
    rate, which comes from the config."""
    trained = {v.ref() for v in getattr(optimizer, "var_list", [])}
    rate = getattr(optimizer, "learning_rate", None)  # the config's (or the schedule's), as in Keras
    if isinstance(rate, sys.modules["tensorflow"].Variable):  # tf_core's; another's may be a number
        trained.add(rate.ref())
    own = [v for v in optimizer.variables if v.ref() not in trained]
    return sys.modules["tensorflow"].train.Checkpoint(state=own)


def _restore_keras_optimizer(optimizer, values, where):
    """Keras makes an optimizer's moments when it first trains (``build``), for the variables the
    model trains at that moment; an optimizer not built yet is restored right after its build."""

    def assign():
        kept = [not v.path.endswith("learning_rate") for v in optimizer.variables]  # the config's lr
        _assign_all(optimizer.variables, values, where, kept)

    if optimizer.built:
        assign()
        return
    build = optimizer.build

    def build_then_restore(variables):
        build(variables)
        optimizer.build = build  # only once
        if sys.modules["keras"].backend.backend() == "tensorflow":
            # TensorFlow builds it while tracing the train step: assign now, not in the graph
            with sys.modules["tensorflow"].init_scope():
                assign()
        else:
            assign()

    optimizer.build = build_then_restore


def _save_arrays(path, variables):
    """The variables' values, in order, in one .npz file."""
    arrays = {f"{i:04d}": np.asarray(_numpy(v)) for i, v in enumerate(variables)}  # in order
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def _load_arrays(path):
    with np.load(path) as arrays:
        return [arrays[key] for key in sorted(arrays.files)]


def _numpy(variable):
    """A framework's variable or tensor as a NumPy array."""
    value = variable.value if hasattr(variable, "value") else variable
    if callable(value):  # tf.Variable.value() is a method, keras.Variable.value a property
        value = value()
    if hasattr(value, "detach"):  # a torch tensor (the Keras torch backend's variables)
        value = value.detach().cpu()
    return np.asarray(value)


def _assign_all(variables, values, where, kept=None):
    variables = list(variables)
    if len(variables) != len(values) or any(
        tuple(v.shape) != tuple(a.shape) for v, a in zip(variables, values, strict=False)
    ):
        raise GenDojoError(f"{where} holds {len(values)} arrays that do not fit these {len(variables)}")
    for index, (variable, value) in enumerate(zip(variables, values, strict=True)):
        if kept is None or kept[index]:
            variable.assign(value)


# --- a whole checkpoint, written atomically ----------------------------------------------------------


def _fsync(path):
    """Flush a file or a folder to disk, so a rename never lands before what it names."""
    if os.environ.get("GENDOJO_FSYNC") == "0":
        return
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems cannot sync a folder
    finally:
        os.close(descriptor)


def _write_json(path, record):
    """Write JSON to ``path`` through a temporary file renamed over it: never half a file."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    temporary.write_text(json.dumps(record, indent=1) + "\n")
    _fsync(temporary)
    os.replace(temporary, path)
    _fsync(path.parent)


def write(out, networks, optimizers=None, state=None):
    """Write a checkpoint of ``networks`` (and ``optimizers``, a dict of them, and ``state``, the
    run's JSON-able record with its "step") into ``out/checkpoint/``; return its folder."""
    root = folder_of(out)
    root.mkdir(parents=True, exist_ok=True)
    state = dict(state or {})
    step = state.get("step")
    current = _manifest(root)
    name = f"step{step:06d}" if step is not None else "weights"
    taken = {current["folder"]} if current else set()
    for n in range(1, 1000):
        if name not in taken:
            break
        name = f"{name.split('.')[0]}.{n}"
    temporary = root / f".{name}.tmp{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    files = {"networks": {}, "optimizers": {}}
    for key, network in networks.items():
        files["networks"][key] = save_network(network, temporary / key)
    for key, optimizer in (optimizers or {}).items():
        files["optimizers"][key] = save_optimizer(optimizer, temporary / _optimizer_file(key))
    state["files"] = files
    (temporary / STATE).write_text(json.dumps(state) + "\n")
    for path in temporary.iterdir():
        _fsync(path)
    _fsync(temporary)
    final = root / name
    if final.exists():  # a folder left by a run killed before it named the folder in latest.json
        shutil.rmtree(final)
    os.rename(temporary, final)
    _fsync(root)
    manifest = {"folder": name, "step": step, "config": state.get("config")}
    manifest["written"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    _write_json(root / MANIFEST, manifest)
    for path in root.iterdir():  # the checkpoint before, and anything a killed write left behind
        if path.name not in (MANIFEST, name):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    return final


def _optimizer_file(name):
    return "optimizer" if name == "optimizer" else f"optimizer-{name}"


def _manifest(root):
    path = Path(root) / MANIFEST
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise GenDojoError(f"{path} cannot be read ({error}); remove the folder to start again") from None
    return record


def read(out):
    """The checkpoint in ``out/checkpoint/``: ``{"folder": Path, "state": dict}``; a GenDojoError
    if there is none or it cannot be read."""
    root = folder_of(out)
    manifest = _manifest(root)
    if manifest is None:
        old = " (only files in an older layout, weights without the run)" if any(root.glob("*.*")) else ""
        raise GenDojoError(
            f"--resume: no checkpoint in {root}{old}. Train once without --resume (with the same "
            f"--out) to write one."
        )
    folder = root / manifest["folder"]
    try:
        state = json.loads((folder / STATE).read_text())
    except (OSError, ValueError) as error:
        raise GenDojoError(f"--resume: the checkpoint {folder} cannot be read ({error})") from None
    return {"folder": folder, "state": state}


def load_networks(networks, checkpoint):
    """Read the networks of ``checkpoint`` (from ``read``) into freshly built ``networks``."""
    for name, network in networks.items():
        try:
            load_network(network, checkpoint["folder"] / name)
        except FileNotFoundError:
            raise GenDojoError(
                f"--resume: the checkpoint {checkpoint['folder']} has no network {name!r}"
            ) from None
        except GenDojoError:
            raise
        except Exception as error:  # a shape mismatch reads differently in every framework
            raise GenDojoError(
                f"--resume: the checkpoint {checkpoint['folder']} does not fit this {name!r} network "
                f"({str(error).splitlines()[0] if str(error) else type(error).__name__}). Was it "
                f"trained with other settings, such as another --image-size or --channels?"
            ) from error
    return networks


def load_optimizers(optimizers, checkpoint):
    saved = checkpoint["state"].get("files", {}).get("optimizers", {})
    if sorted(saved) != sorted(optimizers):
        raise GenDojoError(
            f"--resume: the checkpoint {checkpoint['folder']} has optimizers {sorted(saved)}, this "
            f"answer makes {sorted(optimizers)}"
        )
    for name, optimizer in optimizers.items():
        try:
            load_optimizer(optimizer, checkpoint["folder"] / _optimizer_file(name))
        except GenDojoError:
            raise
        except Exception as error:
            raise GenDojoError(
                f"--resume: the optimizer {name!r} of {checkpoint['folder']} does not fit "
                f"({str(error).splitlines()[0] if str(error) else type(error).__name__})"
            ) from error
