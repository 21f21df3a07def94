"""The command line every answer shares, and the progress bar of its training loop.

``parse_args(Config, argv)`` turns each field of an answer's ``Config`` dataclass into a flag
(``image_size`` → ``--image-size``), so a topic's own settings become flags just by being fields.
Inside Jupyter, ``argv=None`` means "no flags" rather than the kernel's own arguments.
"""

import argparse
import dataclasses
import sys

from tqdm.auto import tqdm

from gendojo.data import DATASETS
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
    "device": "auto (a GPU if there is one), cpu or gpu",
    "resume": "start from the checkpoint in the output folder",
    "sample_every": "write a sample grid every this many steps (0: only at the end)",
    "quiet": "no progress bar",
}


def _in_notebook():
    return "ipykernel" in sys.modules


def parse_args(config_class, argv=None, description=None):
    """Build a ``config_class`` instance from command-line flags, one flag per field."""
    if argv is None:
        argv = [] if _in_notebook() else sys.argv[1:]
    parser = argparse.ArgumentParser(description=description)
    for field in dataclasses.fields(config_class):
        flag = "--" + field.name.replace("_", "-")
        default = field.default
        help_text = HELP.get(field.name) or field.metadata.get("help") or field.name.replace("_", " ")
        if default not in ("", None):
            shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
            help_text += f" (default: {shown})"
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_text)
        elif isinstance(default, tuple):
            parser.add_argument(
                flag, type=type(default[0]), nargs=len(default), default=default, help=help_text
            )
        else:
            parser.add_argument(flag, type=type(default), default=default, help=help_text)
    if "device" in {f.name for f in dataclasses.fields(config_class)}:
        parser._option_string_actions["--device"].choices = ("auto", "cpu", "gpu")
    arguments = vars(parser.parse_args(argv))
    return config_class(**{k: tuple(v) if isinstance(v, list) else v for k, v in arguments.items()})


def run_main(main):
    """Call ``main()``; print a ``GenDojoError`` as one clear message and exit 2, no traceback."""
    try:
        main()
    except GenDojoError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        raise SystemExit(130) from None


def progress(steps, history, description="", quiet=False):
    """Iterate over ``range(steps)`` with a progress bar showing the latest value of each loss.

    ``history`` is the dict of per-step loss lists the training loop appends to; the bar reads
    it after every step, so the loop itself needs no printing code.
    """
    bar = tqdm(range(steps), desc=description, disable=quiet or None, dynamic_ncols=True, leave=True)
    for step in bar:
        yield step
        if history and not bar.disable and (step % 10 == 0 or step == steps - 1):
            bar.set_postfix(
                {name: f"{values[-1]:.4f}" for name, values in history.items() if values}, refresh=False
            )


def check(condition, message):
    """Raise a ``GenDojoError`` with ``message`` unless ``condition``: for checking a config."""
    if not condition:
        raise GenDojoError(message)
