"""Keras answers use only Keras 3 APIs, so they must run on every Keras backend: TensorFlow (the
rest of the harness runs them there), torch and JAX (optional: skipped where not installed).

- Every Keras answer trains on the torch backend in its own sealed process (a graded check).
- One process per backend checks what the GAN answers rely on there (tests/keras_checks.py): the
  promise of gendojo.keras_tools.TrainingMode (TensorFlow: in test_kit.py), and, on TensorFlow and
  torch, the DCGAN family's D frozen weight by weight for G's update (none of D's weights moves,
  its BatchNorm runs in training mode).
- On JAX, every Keras answer trains and the frozen D is checked in one process: an e2e check, as
  JAX compiles every step function it meets (about 150 s of CPU on the development machine)."""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from harness import answer_code, discover, limits, process_limits, tiny_config, tiny_data

from gendojo import sandbox

FRAMEWORKS = ("keras",)
BACKENDS = ("tensorflow", "torch", "jax")
FROZEN_D = ("dcgan", "cgan")  # the topics whose Keras D has BatchNorm and is frozen for G
TESTS = Path(__file__).parent


@pytest.mark.heavy  # a Keras + torch import per answer: graded always, on the references in CI's e2e
def test_runs_on_torch_backend(answer_ref):
    """The answer, in its own sealed process with KERAS_BACKEND=torch, trains 2 tiny steps."""
    process = sandbox.AnswerProcess(
        answer_ref.path, "keras", process_limits, limits["train"], env={"KERAS_BACKEND": "torch"}
    )
    try:
        with answer_code("importing on the torch backend", limits["import"]):
            process.start(limits["import"])
            backend = process.kit("keras_backend")
        with answer_code("train(config, data) for 2 steps on the torch backend"):
            config = tiny_config(_Configs(process), answer_ref.topic, steps=2)
            _, history = process.call("train", config, tiny_data(config))
    finally:
        process.close()
    assert backend == "torch", f"the answer ran on the {backend} backend"
    assert all(math.isfinite(v) for values in history.values() for v in values), history


class _Configs:
    """What ``tiny_config`` needs of an answer: its ``Config()``."""

    def __init__(self, process):
        self.Config = lambda: process.call("Config")


def _keras_answers(config, topics=None):
    """(path, topic) of every selected Keras answer (--answers, --topic), of ``topics`` if given."""
    refs = discover(config.option.answers, config.option.topic, config.option.framework)
    return [
        (str(ref.path), ref.topic)
        for ref in refs
        if ref.framework == "keras" and (topics is None or ref.topic in topics)
    ]


def _report(backend, training_mode, frozen, runs, steps=2):
    """keras_checks.backend_report on ``backend``: here if this process's Keras runs on it (the
    TensorFlow backend, as the harness does: no second import), else in a child process."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"the {backend} backend is not installed")
    if os.environ.get("KERAS_BACKEND", "tensorflow") == backend:
        from keras_checks import backend_report

        return backend_report(training_mode, frozen, runs, steps)
    arguments = json.dumps([training_mode, frozen, runs, steps])
    code = "import json, sys; from keras_checks import backend_report as r; print(json.dumps(r(*json.loads(sys.argv[1]))))"
    paths = os.pathsep.join(filter(None, [str(TESTS.parent), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": paths}
    done = subprocess.run([sys.executable, "-c", code, arguments], capture_output=True, text=True, env=env,
                          cwd=TESTS, timeout=limits["train"] * 2)  # fmt: skip
    assert done.returncode == 0, done.stderr[-1500:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["backend"] == backend, report
    return report


def check_frozen_discriminator(result, where):
    """keras_checks.frozen_discriminator's numbers: D learns in its own update; G's update moves
    none of D's weights (scale and shift included) and runs D's BatchNorm in training mode."""
    assert "error" not in result, f"{where}: {result['error']}"
    assert result["batchnorm_layers"] > 0 and result["steps"], f"{where}: nothing was measured: {result}"
    for number, step in enumerate(result["steps"]):
        at = f"{where}, step {number}"
        assert step["discriminator_moves_weights"] > 0, f"{at}: D's own update left D unchanged"
        assert step["generator_moves_weights"] == 0.0, f"{at}: G's update moved D's weights: {step}"
        assert step["generator_moves_statistics"] > 1e-4, (
            f"{at}: G's update left D's BatchNorm statistics unchanged, so D ran in inference mode "
            f"(a frozen BatchNormalization layer does): {step}"
        )
    assert result["trainable_after"] == result["weights"], f"{where}: train() left D frozen: {result}"


@pytest.mark.parametrize(
    "backend", [pytest.param(b, marks=[] if b == "tensorflow" else [pytest.mark.heavy]) for b in BACKENDS]
)
def test_gan_answers_hold_on_backend(backend, request):
    """On each backend, in one process: TrainingMode keeps its promise (TensorFlow: test_kit.py
    checks it) and the selected DCGAN-family Keras answers freeze D's weights, not its layers."""
    from test_kit import check_training_mode

    # JAX spends ~20 s of CPU compiling each answer's steps: its frozen-D check is e2e (below)
    frozen = [] if backend == "jax" else _keras_answers(request.config, FROZEN_D)
    report = _report(backend, backend != "tensorflow", frozen, [])
    if backend != "tensorflow":
        differences = report["training_mode"]
        if backend == "jax":  # JAX's compiled call rounds apart from its eager one (2.4e-7 measured)
            differences = {
                k: 0.0 if k.endswith("_vs_eager") and v <= 1e-6 else v for k, v in differences.items()
            }
        check_training_mode(differences, backend)
    for path, topic in frozen:
        check_frozen_discriminator(report["frozen"][path], f"{topic} on {backend}")


@pytest.mark.e2e
def test_every_keras_answer_trains_on_jax(request):
    """Every selected Keras answer trains 2 tiny steps on the JAX backend, with finite history, and
    the DCGAN family's D is frozen weight by weight there too."""
    runs = _keras_answers(request.config)
    frozen = _keras_answers(request.config, FROZEN_D)
    if not runs:
        pytest.skip("no Keras answer selected")
    report = _report("jax", False, frozen, runs)
    for path, topic in frozen:
        check_frozen_discriminator(report["frozen"][path], f"{topic} on jax")
    for path, topic in runs:
        values = report["runs"][path]
        assert isinstance(values, list), f"{topic} on jax: {values}"
        assert values and all(math.isfinite(v) for v in values), f"{topic} on jax: {values}"
