"""Keras answers use only Keras 3 APIs, so they must also train on the torch backend (the rest of
the harness imports them on the TensorFlow backend)."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from harness import limits

FRAMEWORKS = ("keras",)
_runs = {}


def run_on_backend(backend, refs):
    """One fresh process per backend trains every Keras answer for 3 steps; cached for the session."""
    if backend not in _runs:
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        args = [f"{r.topic}={r.path}" for r in refs]
        try:
            done = subprocess.run(
                [sys.executable, str(Path(__file__).with_name("keras_backend_run.py")), *args],
                capture_output=True, text=True, timeout=limits["train"] * 2, env=env, cwd=Path(__file__).parent,
            )  # fmt: skip
            lines = [line[7:] for line in done.stdout.splitlines() if line.startswith("RESULT ")]
            _runs[backend] = {r["topic"]: r for r in map(json.loads, lines)}
            _runs[backend]["_stderr"] = done.stderr
        except subprocess.TimeoutExpired:
            _runs[backend] = {"_stderr": "the run did not finish in time"}
    return _runs[backend]


def test_runs_on_torch_backend(answer_ref, request):
    refs = [
        item.callspec.params["answer_ref"]
        for item in request.session.items
        if item.originalname == "test_runs_on_torch_backend"
    ]
    results = run_on_backend("torch", refs)
    result = results.get(answer_ref.topic)
    if result is None:
        pytest.fail(
            f"no result from the torch-backend run: {results['_stderr'].strip().splitlines()[-1:]}",
            pytrace=False,
        )
    assert result["backend"] == "torch"
    assert "error" not in result, f"on the torch backend: {result.get('error')}"
    assert all(math.isfinite(v) for values in result["history"].values() for v in values), result["history"]


def test_keras_tools_training_mode_on_torch_backend(request):
    """gendojo.keras_tools.TrainingMode keeps its promise on the torch backend as well."""
    from test_kit import check_training_mode

    refs = [
        item.callspec.params["answer_ref"]
        for item in request.session.items
        if item.originalname == "test_runs_on_torch_backend"
    ]
    result = run_on_backend("torch", refs).get("keras_tools")
    assert result is not None, (
        f"no result from the torch-backend run: {run_on_backend('torch', refs)['_stderr'][-500:]}"
    )
    assert "error" not in result, result["error"]
    check_training_mode(result["training_mode"], result["backend"])
