"""Reference training loops: the answers' own networks and losses, trained the way each framework's
own tutorials write a training loop, with none of GenDojo's loop machinery (no progress bar, no
history lists, no callback, no diversity measurement).

One module per framework (``pytorch_reference``, ``tensorflow_reference``, ``keras_reference``,
``chainer_reference``), each with the same two entry points:

``train(answer, config, data, steps, probe)``
    build the answer's networks, train them ``steps`` steps (one step = one answer ``train_step``:
    for the WGAN, ``n_critic`` critic updates and one generator update) and call ``probe()`` after
    every step: the benchmark's timestamp, the only thing added to the tutorial loop.
``replay(answer, config, networks, inputs, before_step)``
    run the reference update on given inputs (one dict per step, named as the answer's
    ``train_step`` arguments: ``images``, ``latents``, ``labels``, ``real_batches``, ...) and return
    each step's losses: the equivalence test (tests/test_benchmarks.py) replays the inputs the
    answer's own ``train`` used and compares the losses.
"""

import importlib
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ANSWERS = ROOT / "answers"


def load_answer(topic, framework, answers=ANSWERS, name=None):
    """Import ``answers/<topic>/<topic>_<framework>.py`` by path, as a fresh module."""
    path = Path(answers) / topic / f"{topic}_{framework}.py"
    name = name or f"benchmarks_answer_{topic}_{framework}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def module_for(framework):
    """The reference module of one framework."""
    return importlib.import_module(f"benchmarks.reference.{framework}_reference")


def covered(framework):
    """Topics that framework's reference module has a loop for."""
    return tuple(module_for(framework).TRAINERS)
