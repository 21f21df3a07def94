"""GenDojo's shared kit: everything the answers need that is *not* the lesson.

Data loading to NumPy, image grids, plots, the history file, the command line, the progress bar,
checkpoints and parameter counts live here once. The models, the losses and the training steps
live in the answer files, where a learner reads them.
"""

from gendojo.cli import check, choose_device, parse_args, progress, run_main, validate
from gendojo.data import Dataset, load_dataset
from gendojo.errors import GenDojoError
from gendojo.frameworks import FRAMEWORKS, count_parameters, load_checkpoint, save_checkpoint
from gendojo.outputs import (
    make_grid,
    output_dir,
    save_grid,
    save_history,
    save_loss_plot,
    train_and_save,
)
from gendojo.runs import Run

__all__ = [
    "FRAMEWORKS",
    "Dataset",
    "GenDojoError",
    "Run",
    "check",
    "choose_device",
    "count_parameters",
    "load_checkpoint",
    "load_dataset",
    "make_grid",
    "output_dir",
    "parse_args",
    "progress",
    "run_main",
    "save_checkpoint",
    "save_grid",
    "save_history",
    "save_loss_plot",
    "train_and_save",
    "validate",
]
