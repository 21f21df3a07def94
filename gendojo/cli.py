"""The command line every answer shares, the checks of its settings, and the progress bar.

``parse_args(Config, argv)`` turns each field of an answer's ``Config`` dataclass into a flag
(``image_size`` → ``--image-size``), so a topic's own settings become flags just by being fields,
then checks every value with ``validate``. Inside Jupyter, ``argv=None`` means "no flags" rather
than the kernel's own arguments.

A field can have a second default for real images, the one measured best on them: with
``field(default=2, metadata={"real_images": 3})`` a run on any data set but the drawn shapes
(``gendojo.data.DRAWN``) gets 3 unless its flag is given.
"""

import argparse
import dataclasses
import math
import os
import sys
from pathlib import Path

from tqdm.auto import tqdm

from gendojo.data import DATASETS, DRAWN
from gendojo.errors import GenDojoError

HELP = {
    "dataset": f"data set: {', '.join(DATASETS)}",
    "data_dir": "download cache (public sets) or image folder (folder, paired)",
    "image_size": "images are resized to this square size",
    "channels": "1 for grey, 3 for colour",
    "dataset_size": "number of training images (0: all)",
    "latent_dim": "size of the code (auto encoders) or noise vector (GANs)",
    "steps": "training steps (one batch each)",
    "batch_size": "images per training step",
    "lr": "learning rate",
    "seed": "random seed: the same seed gives the same run",
    "out": "output folder; empty means outputs/<topic>/<framework>",
    "device": "auto (a GPU if there is one), cpu, or gpu (also: cuda)",
    "resume": "continue the run saved in the output folder, up to --steps in all",
    "sample_every": "write a sample grid and a checkpoint every this many steps (0: only at the end)",
    "quiet": "no progress bar",
}
INIT_FROM = "start from the weights in this .npz (python -m gendojo export writes one, from any framework)"


DEVICES = ("auto", "cpu", "gpu", "cuda")


def _in_notebook():
    return "ipykernel" in sys.modules


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        """One line naming the flag, as a GenDojoError would print, instead of usage + error."""
        self.exit(2, f"error: {message} (--help lists the flags)\n")


def parse_args(config_class, argv=None, description=None):
    """Build a ``config_class`` instance from command-line flags, one flag per field, and check it."""
    if argv is None:
        argv = [] if _in_notebook() else sys.argv[1:]
    parser = _Parser(description=description)
    for field in dataclasses.fields(config_class):
        flag = "--" + field.name.replace("_", "-")
        default = field.default
        help_text = HELP.get(field.name) or field.metadata.get("help") or field.name.replace("_", " ")
        second = field.metadata.get("real_images")
        if default not in ("", None):
            shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
            on_real = f"; {second} on real images, not shapes" if second is not None else ""
            help_text += f" (default: {shown}{on_real})"
        if second is not None:  # None until the data set is known
            parser.add_argument(flag, type=type(default), default=None, help=help_text)
        elif isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_text)
        elif isinstance(default, tuple):
            parser.add_argument(
                flag, type=type(default[0]), nargs=len(default), default=default, help=help_text
            )
        else:
            parser.add_argument(flag, type=type(default), default=default, help=help_text)
    if "device" in {f.name for f in dataclasses.fields(config_class)}:
        parser._option_string_actions["--device"].choices = DEVICES
    names = {f.name for f in dataclasses.fields(config_class)}
    if "init_from" not in names:  # every answer takes it; train_and_save reads it
        parser.add_argument("--init-from", default="", metavar="FILE.npz", help=INIT_FROM)
    arguments = vars(parser.parse_args(argv))
    for field in dataclasses.fields(config_class):
        if "real_images" in field.metadata and arguments[field.name] is None:
            drawn = arguments["dataset"] in DRAWN
            arguments[field.name] = field.default if drawn else field.metadata["real_images"]
    init_from = arguments.pop("init_from", "") if "init_from" not in names else None
    config = config_class(**{k: tuple(v) if isinstance(v, list) else v for k, v in arguments.items()})
    validate(config)
    if init_from is not None:
        if init_from and not Path(init_from).expanduser().is_file():
            raise GenDojoError(f"--init-from {init_from}: no such file")
        # not a field of the answer's Config, so it is no setting a --resume compares or saves
        object.__setattr__(config, "init_from", init_from)
    return config


def _at_least(low, text=None):
    return lambda value, config: value >= low, text or f"at least {low}"


# What each setting must be, by field name; a topic's own field can bring its rule in its
# metadata: field(default=…, metadata={"valid": (lambda value, config: …, "what it must be")}).
# Every float must also be finite. The image size and channels are checked with the data.
RULES = {
    "steps": _at_least(1),
    "batch_size": _at_least(1),
    "dataset_size": _at_least(0, "0 (all images) or more"),
    "latent_dim": _at_least(1),
    "hidden_dim": _at_least(1),
    "depth": _at_least(1),
    "num_classes": _at_least(1),
    "n_critic": _at_least(1),
    "diversity_every": _at_least(1),
    "sample_every": _at_least(0, "0 (only at the end) or more"),
    "seed": (lambda value, config: 0 <= value < 2**32, "between 0 and 2**32 - 1"),
    "lr": (lambda value, config: value > 0, "above 0"),
    "g_width": (lambda value, config: value > 0, "above 0"),
    "d_width": (lambda value, config: value > 0, "above 0"),
    "clip": (lambda value, config: value > 0, "above 0"),
    "beta1": (lambda value, config: 0 <= value < 1, "in [0, 1): 1 would divide by 0 in Adam"),
    "lr_decay": (lambda value, config: 0 <= value <= 1, "between 0 (no decay) and 1 (the whole run)"),
    "beta": _at_least(0, "0 or more"),
    "l1_weight": _at_least(0, "0 or more"),
    "device": (lambda value, config: value in DEVICES, "one of " + ", ".join(DEVICES)),
    "class_id": (
        lambda value, config: -1 <= value < config.num_classes,
        "-1 (every class) or a class below --num-classes",
    ),
}


def validate(config):
    """Check every setting of ``config`` before any training: a GenDojoError naming the flag."""
    if not dataclasses.is_dataclass(config):
        return
    for field in dataclasses.fields(config):
        value, flag = getattr(config, field.name), "--" + field.name.replace("_", "-")
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise GenDojoError(f"{flag} must be a finite number, not {value}")
        rule = field.metadata.get("valid") or RULES.get(field.name)
        if rule and not rule[0](value, config):
            raise GenDojoError(f"{flag} must be {rule[1]}, not {value!r}")
    out = getattr(config, "out", "")
    problem = _why_not_writable(out) if out else None
    if problem:
        raise GenDojoError(f"--out {out} cannot be created: {problem}")


def _why_not_writable(folder):
    """Why ``folder`` could not be created or written into (None if it can), creating nothing."""
    path = Path(folder).expanduser().absolute()
    for existing in (path, *path.parents):
        if existing.exists():
            if not existing.is_dir():
                return f"{existing} is a file, not a folder"
            if not os.access(existing, os.W_OK | os.X_OK):
                return f"{existing} is not writable"
            return None
    return None


def choose_device(config, gpu, cpu, framework="this framework"):
    """The device ``--device`` asks for: ``cpu``; ``gpu`` (or ``cuda``): the accelerator, an
    error if there is none (``gpu`` is None); ``auto``: the accelerator if there is one."""
    if config.device == "cpu":
        return cpu
    if gpu is not None:
        return gpu
    if config.device == "auto":
        return cpu
    raise GenDojoError(
        f"--device {config.device}: {framework} finds no GPU on this machine; use --device cpu or auto"
    )


def run_main(main):
    """Call ``main()``; print a ``GenDojoError`` as one clear message and exit 2, no traceback.
    A run stopped by Ctrl-C exits 130, as a shell expects of it."""
    try:
        main()
    except GenDojoError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt as interrupt:
        print(f"\n{interrupt or 'interrupted'}", file=sys.stderr)
        raise SystemExit(130) from None


def progress(steps, history, description="", quiet=False, start=0):
    """Iterate over ``range(start, steps)`` with a progress bar showing the latest value of each loss.

    ``history`` is the dict of per-step loss lists the training loop appends to; the bar reads
    it after every step, so the loop itself needs no printing code. ``start``: the step a resumed
    run goes on from, shown as already done.
    """
    bar = tqdm(
        range(start, steps), desc=description, initial=start, total=steps,
        disable=quiet or None, dynamic_ncols=True, leave=True,
    )  # fmt: skip
    try:
        for step in bar:
            yield step
            if history and not bar.disable and (step % 10 == 0 or step == steps - 1):
                latest = {name: f"{values[-1]:.4f}" for name, values in history.items() if values}
                bar.set_postfix(latest, refresh=False)
    finally:
        bar.close()


def check(condition, message):
    """Raise a ``GenDojoError`` with ``message`` unless ``condition``: for checking a config."""
    if not condition:
        raise GenDojoError(message)
