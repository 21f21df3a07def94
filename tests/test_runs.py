"""Runs that can be stopped, resumed and trusted (gendojo/runs.py, gendojo/checkpoints.py): --resume
continues the same run, Ctrl-C stops after a step and saves it, a SIGKILL while saving leaves a
checkpoint that loads, a diverged run stops with one line, every setting is checked, and
--device says what it can do.

Per framework, one process (tests/runs_child.py) calls the real ``main`` of the answers for the
resume, settings, divergence and device checks, since importing TensorFlow or Keras takes
seconds; its results are read by several tests. The Ctrl-C and SIGKILL tests run the real command
line of the PyTorch auto encoder.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from harness import ROOT

import gendojo
from gendojo import checkpoints

CHILD = ROOT / "tests" / "runs_child.py"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "GENDOJO_FSYNC": "0", "PYTHONPATH": str(ROOT)}
TASKS = ("resume:ae", "resume:dcgan", "table", "diverge", "device")
N, M = 5, 3  # as in runs_child.py
TOPICS = ("ae", "convae", "vae", "gan", "dcgan", "cgan", "pix2pix", "wgan")
ONE_LINE_ERROR = "training diverged at step"


def frameworks():
    return [pytest.param(f, marks=pytest.mark.xdist_group(f"runs-{f}")) for f in gendojo.FRAMEWORKS]


_results = {}


@pytest.fixture
def child(request, tmp_path_factory):
    """The results of runs_child.py for this framework: run once per pytest worker."""
    framework = request.node.callspec.params["framework"]
    chosen = request.config.option.framework
    if chosen and framework not in chosen:
        pytest.skip(f"--framework {' '.join(chosen)}")
    if framework not in _results:
        tasks = [*TASKS, "crash"] if framework == "pytorch" else TASKS
        _results[framework] = run_child(
            framework, [t for t in tasks if (framework, t) not in SLOW], tmp_path_factory
        )
    return _results[framework]


# TensorFlow and Keras compile the DCGAN on every run: their resume check runs with -m slow
SLOW = {("tensorflow", "resume:dcgan"), ("keras", "resume:dcgan")}


def run_child(framework, tasks, tmp_path_factory):
    work = tmp_path_factory.mktemp(f"runs-{framework}")
    # one cache for the quality score's feature network, shared by this worker's processes
    env = {**ENV, "GENDOJO_DATA": str(tmp_path_factory.getbasetemp() / "data")}
    result = work / "result.json"
    process = subprocess.run(
        [sys.executable, str(CHILD), framework, str(work), str(result), *tasks],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(result.read_text())


def resume_cases():
    for topic in ("ae", "dcgan"):
        for case in frameworks():
            marks = [
                *case.marks,
                *([pytest.mark.slow] if (case.values[0], f"resume:{topic}") in SLOW else []),
            ]
            yield pytest.param(case.values[0], topic, marks=marks, id=f"{topic}-{case.values[0]}")


# --- 1. --resume continues the same run -----------------------------------------------------------


@pytest.mark.parametrize(("framework", "topic"), list(resume_cases()))
def test_n_steps_then_resume_to_n_plus_m_is_one_run_of_n_plus_m(child, framework, topic, tmp_path_factory):
    if f"resume:{topic}" not in child:  # a slow case: its own run
        child.update(run_child(framework, [f"resume:{topic}"], tmp_path_factory))
    record = child[f"resume:{topic}"]
    # a topic with rates that fall over the last steps (lr_decay) has its first run stopped after
    # N steps as by Ctrl-C (runs_child.resume), the others ask for N steps
    first = "stopped" if record["ctrl_c"] else "ok"
    assert [outcome for outcome, _ in record["outcomes"]] == [first, "ok", "ok"], record["outcomes"]
    split, whole = record["split"], record["whole"]
    assert split["resumed_at"] == [N] and "resumed_at" not in whole
    assert record["latest"] == N + M, "the checkpoint holds the last step"
    for name, values in whole["history"].items():
        resumed = np.asarray(split["history"][name], dtype=np.float64)
        assert len(resumed) == N + M, f"{name}: the resumed history has {len(resumed)} steps, not {N + M}"
        assert np.allclose(resumed, values, rtol=1e-6, atol=1e-8), (
            f"{name} after --resume differs from one run: {resumed} vs {values}"
        )
    # grids numbered on (one every 2 steps), each the picture one run draws at that step
    expected = [f"step{step:06d}.png" for step in range(0, N + M, 2)]
    assert sorted(record["split_grids"]) == expected == sorted(record["whole_grids"])
    assert record["split_grids"] == record["whole_grids"], "the resumed run's grids differ"


@pytest.mark.slow
@pytest.mark.parametrize("framework", gendojo.FRAMEWORKS)
def test_every_other_topic_resumes_as_one_run_too(framework, tmp_path):
    """The same check for the six other topics (about a minute per framework): ``pytest -m slow``."""
    others = [f"resume:{topic}" for topic in TOPICS if topic not in ("ae", "dcgan")]
    process = subprocess.run(
        [sys.executable, str(CHILD), framework, str(tmp_path), str(tmp_path / "r.json"), *others],
        capture_output=True, text=True, env=ENV, timeout=900,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr[-3000:]
    results = json.loads((tmp_path / "r.json").read_text())
    for task in others:
        record = results[task]
        assert [outcome for outcome, _ in record["outcomes"]] == ["ok"] * 3, (task, record["outcomes"])
        for name, values in record["whole"]["history"].items():
            resumed = record["split"]["history"][name]
            assert np.allclose(resumed, values, rtol=1e-6, atol=1e-8), (task, name, resumed, values)


@pytest.mark.parametrize(
    "framework", [pytest.param("pytorch", marks=pytest.mark.xdist_group("runs-pytorch"))]
)
def test_resume_refuses_what_would_not_continue_the_same_run(child, framework):
    """The kit's checks, the same for every framework: tried on the PyTorch auto encoder."""
    outcomes = child["resume:ae"]["refused"]
    assert "no checkpoint" in outcomes["empty"] and "Train once without --resume" in outcomes["empty"]
    assert "has done 8 steps" in outcomes["no more steps"] and "--steps" in outcomes["no more steps"]
    assert "--batch-size 8" in outcomes["other batch size"], outcomes["other batch size"]
    assert "--lr 0.0005 (was 0.001)" in outcomes["other lr"], "a new --lr is allowed, and said"
    assert all("\n" not in outcomes[name] for name in ("empty", "no more steps", "other batch size"))


# --- 2. Ctrl-C (and SIGKILL) -------------------------------------------------------------------------------------


def command(out, *flags):
    path = ROOT / "answers" / "ae" / "ae_pytorch.py"
    return [sys.executable, str(path), "--image-size", "16", "--dataset-size", "32", "--quiet", "--out", str(out), *flags]  # fmt: skip


def latest_step(out):
    """The step ``checkpoint/latest.json`` names (None before the first): it is replaced whole."""
    manifest = out / "checkpoint" / checkpoints.MANIFEST
    return json.loads(manifest.read_text())["step"] if manifest.exists() else None


def wait_for_checkpoint(process, out, after=0, seconds=60):
    deadline = time.monotonic() + seconds
    while (latest_step(out) or 0) <= after:
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.monotonic() < deadline, f"no checkpoint after step {after} appeared"
        time.sleep(0.05)


def history_of(out):
    return json.loads((out / "history.json").read_text())


@pytest.mark.e2e  # three command-line runs, signals between them: CI's e2e step
@pytest.mark.xdist_group("runs-ctrl-c")
def test_ctrl_c_then_sigkill_then_resume_give_one_run(tmp_path):
    """A run stopped by Ctrl-C, resumed with a checkpoint every step and killed by SIGKILL (most
    likely while writing one), then resumed to the end, gives the history of one run."""
    out, flush = tmp_path / "run", {**ENV, "GENDOJO_FSYNC": "1"}  # as users run it: flushed
    process = subprocess.Popen(
        command(out, "--steps", "100000", "--sample-every", "20"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=flush,
    )  # fmt: skip
    wait_for_checkpoint(process, out)  # after the first step: training runs
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr[-2000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("stopped by Ctrl-C after step ") and "--resume" in last, stderr[-2000:]
    stopped = int(last.split("after step ")[1].split()[0])
    assert 1 <= stopped < 100000 and "Traceback" not in stderr
    assert len(history_of(out)["history"]["loss"]) == stopped
    assert latest_step(out) == stopped
    assert (out / "samples.png").is_file() and (out / "losses.png").is_file()

    process = subprocess.Popen(
        command(out, "--steps", "100000", "--sample-every", "1", "--resume"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=flush,
    )  # fmt: skip
    wait_for_checkpoint(process, out, after=stopped)
    time.sleep(0.3)
    process.kill()  # SIGKILL
    process.wait(timeout=30)
    killed = checkpoints.read(out)["state"]["step"]
    assert killed > stopped

    total = killed + 3
    resumed = subprocess.run(
        command(out, "--steps", str(total), "--sample-every", "20", "--resume"),
        capture_output=True, text=True, env=ENV, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming {out} at step {killed} of {total}" in resumed.stdout
    assert f"steps {killed + 1}-{total} of {total}" in resumed.stdout
    assert history_of(out)["resumed_at"] == [stopped, killed]
    whole = subprocess.run(
        command(tmp_path / "whole", "--steps", str(total), "--sample-every", "20"),
        capture_output=True, text=True, env=ENV, timeout=120,
    )  # fmt: skip
    assert whole.returncode == 0, whole.stderr[-2000:]
    assert history_of(out)["history"] == history_of(tmp_path / "whole")["history"]


# --- 3. atomic checkpoints -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "framework", [pytest.param("pytorch", marks=pytest.mark.xdist_group("runs-pytorch"))]
)
def test_sigkill_at_every_point_of_a_checkpoint_write_leaves_one_that_loads(child, framework):
    """runs_child.py forks a process per line of gendojo/checkpoints.py that writing a checkpoint
    runs, and SIGKILLs it there; after each kill the checkpoint on disk loads (networks and
    optimizer) and is the one before (step 2) or the new one (step 3)."""
    crash = child["crash"]
    points = crash["points"]
    broken = [(number, p["error"]) for number, p in enumerate(points, 1) if "error" in p]
    assert not broken, f"after a kill at {len(broken)} points no checkpoint loads: {broken[:2]}"
    assert len(points) > 50, f"only {len(points)} points: the write was not traced"
    assert all(p["killed"] for p in points[:-1]) and not points[-1]["killed"]
    steps = [p["step"] for p in points]
    assert set(steps) == {2, 3} and steps == sorted(steps), "one switch from the old to the new"
    # killed at moments spread over a write: mostly inside it, some while a file was half written
    timed = crash["timed"]
    assert not [p for p in timed if "error" in p], timed
    assert sum(p["killed"] for p in timed) >= 10 and {p["step"] for p in timed} <= {2, 3}
    assert crash["left"][0] == checkpoints.MANIFEST and len(crash["left"]) == 2, crash["left"]


# --- 4. divergence ---------------------------------------------------------------------------------


@pytest.mark.parametrize("framework", frameworks())
def test_a_diverged_run_stops_with_one_line_and_keeps_the_last_good_checkpoint(child, framework):
    record = child["diverge"]  # the auto encoder with --lr 1e30 and a checkpoint every step
    message = record["message"]
    assert record["outcome"] == "error" and message.startswith(ONE_LINE_ERROR) and "\n" not in message
    step = int(message.split(ONE_LINE_ERROR)[1].split(":")[0])
    assert "--lr 1e+30" in message and "normalisation" in message
    assert f"the last good checkpoint (step {step - 1})" in message
    assert record["checkpoint_step"] == step - 1 and np.all(np.isfinite(record["checkpoint_history"]))
    assert len(record["history"]) == step and not np.isfinite(record["history"][-1])


# --- 5. every setting checked ----------------------------------------------------------------------


@pytest.mark.parametrize("framework", frameworks())
def test_every_bad_setting_stops_main_with_one_line_naming_its_flag(child, framework):
    results = child["table"]
    assert {r["topic"] for r in results} == set(TOPICS)
    assert len(results) >= 150, f"only {len(results)} cases were tried"
    wrong = [r for r in results if r["outcome"] not in ("error", "exit 2")]
    assert not wrong, "accepted: " + ", ".join(f"{r['topic']} {r['flag']}={r['value']}" for r in wrong)
    unnamed = [r for r in results if r["flag"] not in r["message"] or "\n" in r["message"]]
    assert not unnamed, f"not one line naming the flag: {unnamed[:3]}"


def test_validate_reads_rules_by_name_and_from_field_metadata():
    import dataclasses

    @dataclasses.dataclass
    class Config:
        lr: float = 1e-3
        dropout: float = dataclasses.field(
            default=0.5, metadata={"valid": (lambda value, config: 0 <= value <= 1, "in [0, 1]")}
        )
        quiet: bool = False

    gendojo.validate(Config())
    with pytest.raises(gendojo.GenDojoError, match=r"^--dropout must be in \[0, 1\], not 1.5$"):
        gendojo.validate(Config(dropout=1.5))
    with pytest.raises(gendojo.GenDojoError, match="^--lr must be above 0"):
        gendojo.validate(Config(lr=-1.0))


# --- 6. devices ------------------------------------------------------------------------------------


def is_cpu(device):
    return "cpu" in device.lower() or "numpy" in device.lower()  # Chainer's CPU is "@numpy"


@pytest.mark.parametrize("framework", frameworks())
def test_device_flags(child, framework):
    """``--device cpu`` ran the resume checks; ``gpu`` and ``cuda`` run on the GPU ``auto`` finds,
    or, where there is none, stop with one line saying so."""
    assert child["resume:ae"]["split"]["config"]["device"] == "cpu"
    record = child["device"]
    has_gpu = not is_cpu(record["auto"]["device"])
    for choice in ("gpu", "cuda"):
        if has_gpu:  # checked wherever a GPU is there
            assert record[choice]["outcome"] == "ok", record[choice]
            assert record[choice]["device"] == record["auto"]["device"]
        else:
            assert record[choice]["outcome"] == "error"
            assert record[choice]["message"].startswith(f"--device {choice}: ")
            assert "finds no GPU" in record[choice]["message"] and "\n" not in record[choice]["message"]
