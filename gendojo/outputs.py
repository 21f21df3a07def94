"""Everything an answer writes: sample grids, the loss plot, the history file, the output folder.

Images everywhere in GenDojo are NumPy NHWC float32 in [-1, 1]; these helpers turn them into PNGs.
Plots use matplotlib's ``Figure`` directly (no ``pyplot``), so they work the same in a terminal,
on a server without a screen, and inside Jupyter.
"""

import json
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from gendojo.errors import GenDojoError

# History entries that count something rather than measure a loss: kept in history.json, not plotted.
NOT_PLOTTED = ("critic_updates",)


def output_dir(out, topic, framework):
    """``out`` if given, else ``outputs/<topic>/<framework>``; created if missing."""
    path = Path(out) if out else Path("outputs") / topic / framework
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        flag = f"--out {out}" if out else f"the output folder {path}"
        raise GenDojoError(f"{flag} cannot be created: {error.strerror or error}") from None
    return path


def to_uint8(images):
    """[-1, 1] float images → uint8 [0, 255], clipping anything outside the range."""
    return ((np.clip(np.asarray(images, dtype=np.float32), -1, 1) + 1) * 127.5).round().astype(np.uint8)


def make_grid(rows, padding=1, scale=None):
    """Tile a list of image rows into one uint8 RGB picture.

    ``rows`` is a list of NHWC arrays in [-1, 1] (each one row of the grid, e.g. inputs above
    their reconstructions) or a single NHWC array, laid out as a square. Small images are scaled
    up with nearest-neighbour so a 16-pixel grid is still visible.
    """
    if isinstance(rows, np.ndarray):
        images = rows
        columns = math.ceil(math.sqrt(len(images)))
        rows = [images[i : i + columns] for i in range(0, len(images), columns)]
    columns = max(len(row) for row in rows)
    height, width, channels = rows[0].shape[1:]
    grid = np.full(
        (len(rows) * (height + padding) + padding, columns * (width + padding) + padding, 3),
        255,
        dtype=np.uint8,
    )
    for r, row in enumerate(rows):
        for c, image in enumerate(to_uint8(row)):
            if channels == 1:
                image = np.repeat(image, 3, axis=2)
            y, x = padding + r * (height + padding), padding + c * (width + padding)
            grid[y : y + height, x : x + width] = image
    if scale is None:
        scale = max(1, 256 // max(grid.shape[:2]) + 1) if max(height, width) < 64 else 1
    if scale > 1:
        grid = cv2.resize(grid, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    return grid


def save_grid(rows, path, **kwargs):
    """Write ``make_grid(rows)`` to ``path`` as PNG and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(make_grid(rows, **kwargs), cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path


def running_mean(values):
    """(steps, means) of a running mean over a 50th of ``values`` (at least 5): it makes the trend
    of a noisy loss curve readable. Each mean is drawn at the last step of its window."""
    window = max(5, len(values) // 50)
    means = np.convolve(values, np.ones(window) / window, mode="valid")
    return np.arange(window - 1, len(values)), means


def save_loss_plot(history, path, title=""):
    """One line per loss in ``history`` (a dict of per-step lists), against the training step."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), dpi=100)
    axes = figure.add_subplot()
    names = [name for name in history if name not in NOT_PLOTTED]
    # Measures that are not losses (GAN diversity, the WGAN's distance estimate) get their own axis.
    measures = [name for name in names if name in ("diversity", "wasserstein")]
    right = axes.twinx() if measures else None
    for index, name in enumerate(names):
        target = right if name in measures else axes
        values = np.asarray(history[name], dtype=np.float64)
        color = f"C{index % 10}"
        target.plot(np.arange(len(values)), values, label=name, color=color, alpha=0.35, linewidth=0.8)
        if len(values) >= 20:
            target.plot(*running_mean(values), color=color)
    axes.set_xlabel("training step")
    axes.set_ylabel("loss")
    if right is not None:
        right.set_ylabel(" / ".join(measures) + " (not a loss)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    handles = [line for target in (axes, right) if target is not None for line in target.lines]
    axes.legend(handles=[line for line in handles if not line.get_label().startswith("_")])
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def save_history(history, path, config=None, **extra):
    """Write the per-step losses, the config and anything in ``extra`` to a JSON file."""
    record = {"config": _plain(config), **_plain(extra), "history": _plain(history)}
    record.setdefault("written", time.strftime("%Y-%m-%dT%H:%M:%S"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


def _plain(value):
    """Dataclasses, NumPy scalars and arrays → plain JSON types."""
    import dataclasses

    if dataclasses.is_dataclass(value):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def step_ms(durations):
    """Summary of per-step durations (seconds) in milliseconds, for history.json's ``step_ms``.

    The median leaves out the warm-up, the first 10% of the steps and at least the first 5, which
    include graph tracing and compilation (a run too short for that keeps all but its first step).
    """
    durations = [1000 * float(d) for d in durations]
    if not durations:
        return None
    warmup = max(5, len(durations) // 10)
    if warmup >= len(durations):
        warmup = min(1, len(durations) - 1)
    kept = durations[warmup:]
    return {"median": round(float(np.median(kept)), 3), "steps": len(kept), "warmup": warmup,
            "first": round(durations[0], 3)}  # fmt: skip


def finish_run(networks, history, config, out, topic, framework, seconds=None, run=None, **extra):
    """End of every answer's ``main``: checkpoint, history file and loss plot, then a summary.

    ``extra`` fields go into history.json; a "quality" one (``gendojo.quality``) is printed too.
    With a ``gendojo.Run`` the checkpoint holds the whole run (optimizers, step, random streams),
    so ``--resume`` can continue it; without one, the networks' weights alone.
    """
    from gendojo import frameworks

    if run is not None:
        run.save(networks, seconds or 0.0)
        extra = {"resumed_at": run.resumed_at, **extra} if run.resumed_at else extra
    else:
        frameworks.save_checkpoint(networks, out)
    parameters = {name: frameworks.count_parameters(network) for name, network in networks.items()}
    save_history(
        history, out / "history.json", config, topic=topic, framework=framework,
        parameters=parameters, seconds=seconds, **extra,
    )  # fmt: skip
    save_loss_plot(history, out / "losses.png", title=f"{topic} · {framework}")
    final = ", ".join(f"{name} {values[-1]:.4f}" for name, values in history.items() if values)
    timing = f" in {seconds:.1f} s" if seconds is not None else ""
    done = len(next(iter(history.values()), []))
    first = run.resumed_at[-1] if run is not None and run.resumed_at else 0
    steps = f"steps {first + 1}-{done} of {done}" if first else f"{done} steps"
    print(f"{topic} {framework}: {steps}{timing}; final {final}")
    if "quality" in extra:
        from gendojo.quality import describe

        print(describe(extra["quality"]))
    print(f"wrote {out}/: samples.png, losses.png, history.json, checkpoint/")


def _init_from(path, build, networks, config, resumed):
    """``--init-from FILE.npz``: the networks start from canonical weights (gendojo/weights.py)."""
    from gendojo import weights

    if resumed:
        raise GenDojoError("--init-from and --resume: a resumed run goes on from its checkpoint; pass one")
    weights.load(sys.modules[build.__module__], networks, config, Path(path).expanduser())
    print(f"starting from the weights in {path}")


def train_and_save(config, topic, framework, build, train, data, samples, score=None):
    """The body of every answer's ``main`` after the config and data: build (or ``--resume``),
    train with a sample grid and a checkpoint every ``config.sample_every`` steps, then write the
    final grid, the checkpoint, the history and the loss plot. Returns ``(networks, history, out)``.

    ``samples(networks)`` gives the grid's rows (a list of NHWC arrays in [-1, 1]); an answer
    passes its own inference function there, e.g. ``lambda n: [fixed, reconstruct(n, fixed)]``.
    ``score(networks)``, if given (the GAN topics), returns a ``gendojo.quality.score`` dict for
    the trained networks: printed in one line and stored in history.json under "quality".

    ``--resume`` continues the run saved in the output folder up to ``--steps`` in all (see
    gendojo/runs.py). Ctrl-C stops after the current step and saves what was done; a loss that
    turns NaN or infinite stops the run and keeps the last good checkpoint.
    """
    from gendojo import checkpoints, runs
    from gendojo.cli import validate
    from gendojo.notebook import show

    validate(config)
    out = output_dir(config.out, topic, framework)
    resumable = runs.accepts_run(train)
    checkpoint = checkpoints.read(out) if config.resume else None
    if checkpoint is not None:
        if not resumable:
            raise GenDojoError("--resume: this answer's train() takes no run= argument, so it cannot resume")
        changed = runs.describe_changes(runs.check_resume(config, checkpoint, topic, framework))
        done = checkpoint["state"]["step"]
        print(f"resuming {out} at step {done} of {config.steps}" + (f" with {changed}" if changed else ""))
    run = runs.Run(config, out, topic, framework, checkpoint)
    networks = build(config)
    if checkpoint is not None:
        checkpoints.load_networks(networks, checkpoint)
    init_from = getattr(config, "init_from", "")
    if init_from:
        _init_from(init_from, build, networks, config, resumed=checkpoint is not None)

    durations = []  # every answer calls the callback at the end of each step

    def write_samples(step, networks):
        nonlocal step_started
        durations.append(time.perf_counter() - step_started)
        if resumable:
            run.end_step(step)  # a NaN loss stops the run here, before it is saved
        if config.sample_every and step % config.sample_every == 0:
            if resumable:
                run.save(networks, time.perf_counter() - started)
            show(save_grid(samples(networks), out / f"samples/step{step:06d}.png"))  # show: in Jupyter
        step_started = time.perf_counter()  # the time spent writing a grid is no step's

    started = step_started = time.perf_counter()
    try:
        with runs.stop_on_ctrl_c(run if resumable else None):
            if resumable:
                networks, history = train(config, data, networks, callback=write_samples, run=run)
            else:
                networks, history = train(config, data, networks, callback=write_samples)
    except runs.Diverged:  # the history up to the bad step, to look at; the checkpoint stays as it was
        info = dict(topic=topic, framework=framework, diverged_at=run.step)
        save_history(run.logged, out / "history.json", config, **info)
        save_loss_plot(run.logged, out / "losses.png", title=f"{topic} · {framework} (diverged)")
        raise
    seconds = time.perf_counter() - started
    save_grid(samples(networks), out / "samples.png")
    stopped = run.interrupted and run.step < config.steps  # Ctrl-C in the last step stops nothing
    extra = {}
    if score is not None and not stopped:  # Ctrl-C asks to stop, not to wait for a score
        scoring = time.perf_counter()
        extra["quality"] = {**score(networks), "seconds": round(time.perf_counter() - scoring, 3)}
    finish_run(
        networks, history, config, out, topic, framework, seconds, run=run if resumable else None,
        step_ms=step_ms(durations), **extra,
    )  # fmt: skip
    show(out / "samples.png", out / "losses.png")
    if stopped:
        raise runs.Interrupted(
            f"stopped by Ctrl-C after step {run.step} of {config.steps}; the steps done are saved in "
            f"{out}/: add --resume to the same command to go on"
        )
    return networks, history, out
