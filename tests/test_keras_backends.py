"""Keras answers use only Keras 3 APIs, so they must also train on the torch backend (the rest of
the harness runs them on the TensorFlow backend)."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from harness import answer_code, limits, process_limits, tiny_config, tiny_data

from gendojo import sandbox

FRAMEWORKS = ("keras",)


def test_runs_on_torch_backend(answer_ref):
    """The answer, in its own sealed process with KERAS_BACKEND=torch, trains 3 tiny steps."""
    process = sandbox.AnswerProcess(
        answer_ref.path, "keras", process_limits, limits["train"], env={"KERAS_BACKEND": "torch"}
    )
    try:
        with answer_code("importing on the torch backend", limits["import"]):
            process.start(limits["import"])
            backend = process.kit("keras_backend")
        with answer_code("train(config, data) for 3 steps on the torch backend"):
            config = tiny_config(_Configs(process), answer_ref.topic, steps=3)
            _, history = process.call("train", config, tiny_data(config))
    finally:
        process.close()
    assert backend == "torch", f"the answer ran on the {backend} backend"
    assert all(math.isfinite(v) for values in history.values() for v in values), history


class _Configs:
    """What ``tiny_config`` needs of an answer: its ``Config()``."""

    def __init__(self, process):
        self.Config = lambda: process.call("Config")


def test_keras_tools_training_mode_on_torch_backend():
    """gendojo.keras_tools.TrainingMode keeps its promise on the torch backend as well (a test of
    the kit: it runs whatever answers are selected)."""
    from test_kit import check_training_mode

    code = "import json, keras; from keras_checks import training_mode_differences as d; print(json.dumps([keras.backend.backend(), d()]))"
    env = {**os.environ, "KERAS_BACKEND": "torch", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).parent, timeout=limits["train"])  # fmt: skip
    assert done.returncode == 0, done.stderr[-1500:]
    backend, differences = json.loads(done.stdout.strip().splitlines()[-1])
    assert backend == "torch"
    check_training_mode(differences, backend)
