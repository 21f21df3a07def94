"""``python -m gendojo compare``: the four answers of a topic run with one config, side by side
(gendojo.compare), and the per-step timing every run records in history.json (gendojo.outputs)."""

import ast
import csv
import json
import os
import shutil
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from harness import REFERENCE, ROOT

from gendojo import FRAMEWORKS, outputs
from gendojo.compare import flag_parameters, markdown_table, side_by_side, summarise, write_csv

TINY = ["--steps", "3", "--dataset-size", "16", "--batch-size", "8"]
ANSWER_FILES = sorted(p for p in REFERENCE.glob("*/*_*.py") if p.stem.split("_")[-1] in FRAMEWORKS)


def compare(*args, cwd=ROOT):
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "gendojo", "compare", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=environment, timeout=300)


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


# --- step timing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ANSWER_FILES, ids=[p.stem for p in ANSWER_FILES])
def test_every_training_loop_calls_back_once_at_the_end_of_each_step(path):
    """The step timing stamps the clock in the callback: it must end every step, and only once."""
    train = next(
        n for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef) and n.name == "train"
    )
    loops = [
        n
        for n in ast.walk(train)
        if isinstance(n, ast.For)
        and isinstance(n.iter, ast.Call)
        and ast.unparse(n.iter.func) in ("run.steps", "gendojo.progress")
    ]
    assert len(loops) == 1, f"{path.name}: train has {len(loops)} run.steps loops, not 1"
    (loop,) = loops
    assert ast.unparse(loop.body[-1]) == "if callback:\n    callback(step, networks)", (
        f"{path.name}: the step loop does not end with the callback"
    )
    calls = [n for n in ast.walk(train) if isinstance(n, ast.Call) and ast.unparse(n.func) == "callback"]
    assert len(calls) == 1
    assert not [n for n in ast.walk(loop) if isinstance(n, ast.Continue | ast.Break | ast.Return)], (
        f"{path.name}: a step can leave the loop before the callback"
    )


def test_step_ms_leaves_out_the_warm_up():
    durations = [1.0] * 5 + [0.010] * 40 + [0.030] * 5  # 50 steps: warm-up max(5, 5) = 5
    summary = outputs.step_ms(durations)
    assert summary == {"median": 10.0, "steps": 45, "warmup": 5, "first": 1000.0}
    long = outputs.step_ms([2.0] * 20 + [0.004] * 180)  # 200 steps: warm-up 10% = 20
    assert long["warmup"] == 20 and long["steps"] == 180 and long["median"] == 4.0
    short = outputs.step_ms([1.0, 0.002, 0.004])  # too short for a warm-up: all but the first step
    assert short == {"median": 3.0, "steps": 2, "warmup": 1, "first": 1000.0}
    assert outputs.step_ms([0.5])["steps"] == 1 and outputs.step_ms([]) is None


def test_train_and_save_times_steps_without_the_sample_grids(tmp_path, monkeypatch):
    """Fake answer: each step takes ~10 ms and writes a grid that takes ~50 ms, which must not count."""

    class Config:
        out, resume, sample_every, steps = str(tmp_path), False, 1, 25

    def train(config, data, networks, callback):
        for step in range(config.steps):
            time.sleep(0.01)
            callback(step, networks)
        return networks, {"loss": [1.0] * config.steps}

    def samples(networks):
        time.sleep(0.05)
        return np.zeros((4, 8, 8, 1), np.float32)

    recorded = {}
    monkeypatch.setattr(outputs, "finish_run", lambda *args, **kwargs: recorded.update(kwargs))
    outputs.train_and_save(Config(), "fake", "numpy", lambda config: {}, train, None, samples)
    summary = recorded["step_ms"]
    assert summary["steps"] == 20 and summary["warmup"] == 5
    assert 9.5 <= summary["median"] < 40, summary  # with the grid's time it would be over 60
    assert len(list((tmp_path / "samples").glob("step*.png"))) == 25


# --- the comparison ------------------------------------------------------------------------------


@pytest.mark.e2e  # the compare command end to end: CI's e2e step
def test_compare_runs_the_four_answers_and_writes_the_table_and_pictures(tmp_path):
    out = tmp_path / "cmp"
    result = compare("ae", "--out", out, "--", *TINY)
    assert result.returncode == 0, result.stderr[-2000:]
    for number, framework in enumerate(FRAMEWORKS, start=1):
        assert f"[{number}/4] {framework}: answers/ae/ae_{framework}.py ... ok (" in result.stdout

    rows = read_csv(out / "comparison.csv")
    assert [row["framework"] for row in rows] == list(FRAMEWORKS)
    assert all(row["status"] == "ok" for row in rows), rows
    for column in ("params_encoder", "params_decoder", "params_total"):
        assert len({row[column] for row in rows}) == 1 and int(rows[0][column]) > 0
    assert int(rows[0]["params_total"]) == int(rows[0]["params_encoder"]) + int(rows[0]["params_decoder"])
    for row in rows:
        assert float(row["step_ms_median"]) > 0 and int(row["step_ms_steps"]) == 2
        assert 0 < float(row["train_seconds"]) < float(row["wall_seconds"])
        history = json.loads((out / row["framework"] / "history.json").read_text())
        assert float(row["final_loss"]) == pytest.approx(history["history"]["loss"][-1], rel=1e-5)
        assert history["step_ms"]["median"] == pytest.approx(float(row["step_ms_median"]), rel=1e-5)

    markdown = (out / "comparison.md").read_text()
    table = [line for line in markdown.splitlines() if line.startswith("|")]
    assert table[0].startswith("| framework | status | encoder params | decoder params | total params")
    assert "ms/step" in table[0] and "final loss" in table[0] and len(table) == 2 + 4
    assert "`--steps 3 --dataset-size 16 --batch-size 8`" in markdown
    assert "must be equal across the frameworks" in markdown
    assert "\n".join(table) in result.stdout  # the table is printed at the end too

    grids = [cv2.imread(str(out / f / "samples.png")) for f in FRAMEWORKS]
    picture = cv2.imread(str(out / "samples.png"))
    gaps = 8 * (len(grids) - 1)
    assert picture.shape[1] == sum(g.shape[1] for g in grids) + gaps
    assert max(g.shape[0] for g in grids) < picture.shape[0] <= max(g.shape[0] for g in grids) + 40
    first = grids[0]
    top = picture.shape[0] - first.shape[0]  # the caption strip is above each grid
    assert np.array_equal(picture[top:, : first.shape[1]], first)
    assert (picture[: top - 2, : first.shape[1]] < 128).any()  # the caption's black text
    losses = cv2.imread(str(out / "losses.png"))
    assert losses is not None and losses.shape[1] >= 400


def test_a_failing_answer_gets_a_failed_row_and_the_others_still_run(tmp_path):
    tree = tmp_path / "mywork"
    (tree / "ae").mkdir(parents=True)
    shutil.copy(REFERENCE / "ae" / "ae_chainer.py", tree / "ae")
    (tree / "ae" / "ae_pytorch.py").write_text('raise RuntimeError("my encoder is not ready")\n')
    # ae_keras.py is missing altogether
    out = tmp_path / "cmp"
    result = compare(
        "ae", "--answers", tree, "--frameworks", "pytorch", "keras", "chainer", "--out", out, "--", *TINY
    )
    assert result.returncode == 1, result.stderr[-2000:]
    rows = {row["framework"]: row for row in read_csv(out / "comparison.csv")}
    assert list(rows) == ["pytorch", "keras", "chainer"]
    assert rows["pytorch"]["status"] == "failed: RuntimeError: my encoder is not ready"
    assert rows["keras"]["status"].startswith("failed: no file ") and "ae_keras.py" in rows["keras"]["status"]
    assert rows["chainer"]["status"] == "ok" and float(rows["chainer"]["step_ms_median"]) > 0
    assert rows["pytorch"]["params_total"] == "" and "Traceback" in (out / "pytorch" / "run.log").read_text()
    picture, grid = cv2.imread(str(out / "samples.png")), cv2.imread(str(out / "chainer" / "samples.png"))
    assert picture.shape[1] == grid.shape[1]  # only the one grid there is
    assert (
        "| pytorch | failed: RuntimeError: my encoder is not ready |" in (out / "comparison.md").read_text()
    )


def test_a_previous_run_is_never_read_as_this_one(tmp_path):
    out = tmp_path / "cmp"
    (out / "chainer").mkdir(parents=True)
    (out / "chainer" / "history.json").write_text(json.dumps({"parameters": {"encoder": 1}, "history": {}}))
    tree = tmp_path / "mywork"
    (tree / "ae").mkdir(parents=True)
    (tree / "ae" / "ae_chainer.py").write_text("print('trains nothing')\n")
    result = compare("ae", "--answers", tree, "--frameworks", "chainer", "--out", out)
    assert result.returncode == 1
    assert read_csv(out / "comparison.csv")[0]["status"] == "failed: it wrote no history.json"


def test_unknown_topic_and_reserved_flags_are_one_line_errors(tmp_path):
    result = compare("nope", "--out", tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: no such topic: nope (topics in answers: ae, cgan, convae, dcgan, gan, pix2pix, vae, wgan)"
    ]
    result = compare("ae", "--out", tmp_path, "--", "--out", "elsewhere")
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "error: --out is set by compare for each answer: leave it out of the flags"
    )
    assert not list(tmp_path.iterdir())


def test_rows_with_other_parameter_counts_are_flagged_and_quality_becomes_columns(tmp_path):
    def record(encoder, quality=None):
        history = {"loss": list(np.linspace(1.0, 0.0, 20)), "critic_updates": [5] * 20}
        return {"parameters": {"encoder": encoder, "decoder": 10}, "step_ms": {"median": 2.5, "steps": 15},
                "seconds": 1.0, "history": history, "quality": quality or {}}  # fmt: skip

    rows = [
        summarise(
            "pytorch", "ok", 3.0, record(100, {"fd": 1.5, "coverage": 0.75, "fd_real": 0.2, "samples": 64})
        ),
        summarise("tensorflow", "ok", 3.0, record(100, {"fd": 2.5, "coverage": 1.0, "label_accuracy": 0.9})),
        summarise("keras", "ok", 3.0, record(99)),
        summarise("chainer", "failed: ImportError: no chainer", 1.0, None),
    ]
    flag_parameters(rows)
    assert [row["status"] for row in rows] == ["ok", "ok", "ok, parameters differ", rows[3]["status"]]
    assert rows[0]["final"] == {"loss": pytest.approx(np.mean(np.linspace(1.0, 0.0, 20)[-2:]))}
    table = read_csv(write_csv(rows, tmp_path / "c.csv"))
    assert list(table[0])[-6:] == [
        "final_loss",
        "fd",
        "coverage",
        "label_accuracy",
        "quality_fd_real",
        "quality_samples",
    ]
    assert [row["fd"] for row in table] == ["1.5", "2.5", "", ""]
    assert table[3]["params_total"] == "" and table[0]["params_total"] == "110"
    header = markdown_table(rows).splitlines()[0]  # the Markdown shows the scores, not the counts
    assert header.endswith("| final loss | fd | coverage | label_accuracy |") and "critic" not in header
    two = [summarise("pytorch", "ok", 1, record(1)), summarise("keras", "ok", 1, record(2))]
    flag_parameters(two)  # no majority: both are flagged
    assert [row["status"] for row in two] == ["ok, parameters differ"] * 2


def test_side_by_side_pads_grids_of_different_sizes():
    tall, wide = np.zeros((60, 50, 3), np.uint8), np.zeros((30, 120, 3), np.uint8)
    picture = side_by_side([tall, wide], ["pytorch", "tensorflow"], gap=8, caption_height=30)

    def panel_width(grid, caption):  # a caption wider than its grid widens the panel
        return max(grid.shape[1], cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, 0.7, 2)[0][0] + 8)

    assert picture.shape == (30 + 60, panel_width(tall, "pytorch") + 8 + panel_width(wide, "tensorflow"), 3)
    left = panel_width(tall, "pytorch") + 8
    assert (picture[30:90, :50] == 0).all() and (picture[30:60, left : left + 120] == 0).all()
    assert (picture[60:, left:] == 255).all()  # the short grid is padded with white below


def test_help_lists_the_command():
    result = subprocess.run([sys.executable, "-m", "gendojo", "--help"], capture_output=True, text=True)
    assert "compare" in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "gendojo", "compare", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "[-- FLAGS for every answer]" in result.stdout
