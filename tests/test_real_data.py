"""The real-data benchmark (benchmarks/real_data.py): its table, and, with ``-m slow``, the DCGAN's
default run on the real handwritten digits in every framework, which must reach 9 classes in 10."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import real_data  # noqa: E402


def row(framework, seed, coverage, **extra):
    return dict(
        topic="dcgan", framework=framework, dataset="digits", seed=seed,
        steps=real_data.default_steps("dcgan", "digits"), fd=30.0,
        fd_real=5.6, coverage=coverage, label_accuracy=None, train_s=100.0, load_1min=1.0, **extra,
    )  # fmt: skip


def test_table_marks_rows_under_the_bar_and_lists_what_was_not_measured():
    rows = real_data.merge(
        [row("keras", 0, 1.0), row("pytorch", 0, 0.5)],
        [
            row("pytorch", 0, 0.9),
            row("chainer", 1, 0.3, class_ratios={"0": 0.2, "1": 1.1, "2": 0.5, "4": 0.49}),
        ],
    )  # pytorch seed 0 measured again
    assert [(r["framework"], r["coverage"]) for r in rows] == [
        ("pytorch", 0.9),
        ("keras", 1.0),
        ("chainer", 0.3),
    ]
    machine = dict(cpu="cpu", usable_cpus=2, memory="1 GiB", os="os", python="3.11", packages={})
    results = {"runs": [{"date": "d", "rows": 3, "threads": 1, "machine": machine}], "rows": rows}
    text = real_data.markdown(results)
    lines = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| dcgan")}
    assert lines["pytorch"].endswith("| yes |") and lines["chainer"].endswith(
        "| **no**: 0 at 0.20, 4 at 0.49 |"
    )
    assert "93 of the 96 runs" in text and "dcgan tensorflow digits seed 0" in text
    stale = dict(row("tensorflow", 0, 1.0), steps=real_data.default_steps("dcgan", "digits") - 1)
    text_stale = real_data.markdown({**results, "rows": [*rows, stale]})
    assert "93 of the 96 runs" in text_stale  # a row at other steps is not the default's row
    assert "not counted: the default is" in text_stale
    two_lanes = {**results, "runs": [*results["runs"], {**results["runs"][0], "rows": 2}]}
    assert "- d: 5 rows measured in 2 batches, 1 thread(s) per run, on cpu" in real_data.markdown(two_lanes)
    notes = "## Findings\n\nWritten by hand.\n"
    kept = real_data.markdown(results, notes)
    assert kept.startswith(text) and kept.endswith(notes)


def test_a_topic_with_other_defaults_on_real_images_counts_each_data_set_at_its_own():
    # the WGAN's steps are 4000 on the drawn shapes and 2250 on real images (gendojo/cli.py)
    shapes, digits = (real_data.default_steps("wgan", d) for d in ("simple-shapes", "digits"))
    assert shapes != digits
    rows = [
        dict(row("pytorch", 0, 1.0), topic="wgan", dataset="simple-shapes", steps=shapes),
        dict(row("pytorch", 0, 1.0), topic="wgan", steps=shapes),
        dict(row("pytorch", 1, 1.0), topic="wgan", steps=digits),
    ]
    machine = dict(cpu="cpu", usable_cpus=2, memory="1 GiB", os="os", python="3.11", packages={})
    text = real_data.markdown(
        {"runs": [{"date": "d", "rows": 3, "threads": 1, "machine": machine}], "rows": rows}
    )
    lines = [line for line in text.splitlines() if line.startswith("| wgan")]
    assert lines[0].endswith("| yes |") and lines[2].endswith("| yes |")
    assert lines[1].endswith(f"| not counted: the default is {digits} steps |")
    assert f"wgan {shapes} on simple-shapes, {digits} on digits" in text
    assert "wgan pytorch digits seed 0" in text and "wgan pytorch digits seed 1" not in text


def test_a_row_that_ran_with_another_setting_is_not_counted():
    # a default that changes without the steps (the DCGAN's --lr-decay) retires the older rows
    path = ROOT / "answers" / "dcgan" / "dcgan_pytorch.py"
    config = real_data.config_defaults(path) | {"dataset": "digits", "seed": 0}
    old_decay = {k: v for k, v in config.items() if k != "lr_decay"}
    rows = [
        dict(row("pytorch", 0, 1.0), config=config),
        dict(row("keras", 0, 1.0), config={**config, "lr_decay": 0.0}),
        dict(row("chainer", 0, 1.0), config=old_decay),
        row("tensorflow", 0, 1.0),  # kept no config (measured before rows kept it): steps only
    ]
    assert [real_data.at_default(r) for r in rows] == [True, False, False, True]
    machine = dict(cpu="cpu", usable_cpus=2, memory="1 GiB", os="os", python="3.11", packages={})
    text = real_data.markdown(
        {"runs": [{"date": "d", "rows": 4, "threads": 1, "machine": machine}], "rows": rows}
    )
    lines = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| dcgan")}
    assert lines["keras"].endswith(
        f"| not counted: ran with --lr-decay 0.0 (the default is {config['lr_decay']}) |"
    )
    assert lines["chainer"].endswith(
        f"| not counted: ran with --lr-decay did not exist yet (the default is {config['lr_decay']}) |"
    )
    assert "94 of the 96 runs" in text and "dcgan keras digits seed 0" in text


def test_the_committed_table_is_what_the_script_writes_from_the_committed_rows():
    """benchmarks/results/real_data.md above its findings is real_data.py's own rendering of
    real_data.json: a table edited by hand, or left behind when the script's columns change,
    fails here (``python benchmarks/real_data.py --table-only`` rewrites it)."""
    results_dir = ROOT / "benchmarks" / "results"
    table = results_dir / "real_data.md"
    results = json.loads((results_dir / "real_data.json").read_text())
    assert table.read_text() == real_data.markdown(results, real_data.kept_notes(table)), (
        "real_data.md is not what real_data.py writes from real_data.json: run "
        "python benchmarks/real_data.py --table-only"
    )


def test_hand_written_findings_survive_a_new_table(tmp_path):
    table = tmp_path / "real_data.md"
    assert real_data.kept_notes(table) == ""
    table.write_text("# old table\n| a | b |\n\n## Findings\n\nD was too slow.\n")
    assert real_data.kept_notes(table) == "## Findings\n\nD was too slow.\n"


def test_command_is_the_answers_own_with_what_the_data_set_needs(tmp_path):
    command = real_data.command_for("cgan", "keras", "digits", 2, 0, tmp_path)
    assert command[1].endswith("answers/cgan/cgan_keras.py") and Path(command[1]).exists()
    flags = " ".join(command[2:])
    assert "--dataset digits --channels 1 --seed 2" in flags and "--num-classes 10" in flags
    assert "--steps" not in flags  # the default config
    assert "--channels" not in " ".join(
        real_data.command_for("gan", "pytorch", "simple-shapes", 0, 5, tmp_path)
    )


def test_a_row_holds_the_benchmarks_own_score_of_the_saved_generator(monkeypatch):
    """The row's numbers come from the second process, which scores the checkpoint; what the run
    printed about itself is kept as ``reported`` and nothing else."""
    commands = []

    def fake_process(command, output, row, args):
        commands.append(command)
        if "--score-child" in command:
            score = {"fd": 20.0, "fd_real": 5.6, "coverage": 0.8, "class_ratios": {"1": 0.4}, "samples": 5000}
            Path(output).write_text(json.dumps(score))
        else:
            config = {"steps": 7, "seed": 0, "out": "x"}
            quality = {"fd": 3.0, "coverage": 1.0, "samples": 1000}
            Path(output).write_text(json.dumps({"config": config, "seconds": 9.0, "quality": quality}))
        return {**row, "wall_s": 1.0}

    monkeypatch.setattr(real_data, "run_process", fake_process)
    args = argparse.Namespace(steps=0, threads=1, timeout=60)
    result = real_data.run_one("dcgan", "keras", "digits", 0, args)
    assert (result["fd"], result["coverage"], result["samples"]) == (20.0, 0.8, 5000)
    assert result["reported"] == {"fd": 3.0, "coverage": 1.0, "samples": 1000}
    assert result["class_ratios"] == {"1": 0.4} and result["train_s"] == 9.0
    train, score = commands
    folder = train[train.index("--out") + 1]
    assert score[-5:-1] == ["dcgan", "keras", folder, str(real_data.SCORE_SAMPLES)]
    assert real_data.SCORE_SAMPLES >= 5000


def test_table_says_who_scored_each_row_and_its_scarcest_class():
    machine = dict(cpu="cpu", usable_cpus=2, memory="1 GiB", os="os", python="3.11", packages={})
    rows = [
        row("pytorch", 0, 1.0, class_ratios={"1": 0.61, "7": 0.9}, samples=5000),
        row("keras", 0, 1.0),  # measured before the benchmark scored rows itself
    ]
    text = real_data.markdown(
        {"runs": [{"date": "d", "rows": 2, "threads": 1, "machine": machine}], "rows": rows}
    )
    lines = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| dcgan")}
    assert "| 1.00 | 1 0.61 |  | 5000 |" in lines["pytorch"]
    assert "| 1.00 |  |  | 1000, run |" in lines["keras"]


@pytest.mark.e2e
@pytest.mark.parametrize("framework", real_data.FRAMEWORKS)
def test_the_scorer_rebuilds_the_trained_generator_from_its_checkpoint(tmp_path, framework):
    """Asked for the run's own noise (seed + 1) and 1000 samples, the benchmark's scorer, working
    from the checkpoint alone, must give the very score the run printed: the same config, the
    trained weights (not a fresh network) and the same inference."""
    out = tmp_path / "run"
    command = real_data.command_for("dcgan", framework, "digits", 0, 3, out)
    process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stdout + process.stderr
    reported = json.loads((out / "history.json").read_text())["quality"]
    result = tmp_path / "scored.json"
    real_data.score_child("dcgan", framework, str(out), 1000, result, noise_seed=1)
    scored = json.loads(result.read_text())
    assert scored["fd"] == pytest.approx(reported["fd"], rel=1e-4), (scored, reported)
    assert scored["class_ratios"] == reported["class_ratios"]


def test_photo_pairs_are_grey_to_colour_crops_of_real_photographs(tmp_path):
    import cv2
    import numpy as np

    real_data.photo_pairs(tmp_path, count=6, held_out=4)
    for part, count in (("train", 6), ("held", 4)):
        sources = [cv2.imread(str(p)) for p in sorted((tmp_path / part / "A").iterdir())]
        targets = [cv2.imread(str(p)) for p in sorted((tmp_path / part / "B").iterdir())]
        assert len(sources) == len(targets) == count and sources[0].shape == (32, 32, 3)
        for source, target in zip(sources, targets, strict=True):
            assert (source.max(axis=2) == source.min(axis=2)).all()  # grey
            grey = cv2.cvtColor(target, cv2.COLOR_BGR2GRAY)
            assert np.abs(grey.astype(int) - source[..., 0]).max() <= 1  # the same picture
    colourful = [cv2.imread(str(p)).std(axis=2).mean() for p in (tmp_path / "train" / "B").iterdir()]
    assert max(colourful) > 5


@pytest.mark.slow
def test_pix2pix_photo_row(tmp_path):
    command = [sys.executable, str(ROOT / "benchmarks" / "real_data.py"), "--topics", "--pix2pix"]
    command += ["--frameworks", "pytorch", "--seeds", "0", "--steps", "5", "--out", str(tmp_path)]
    process = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stdout + process.stderr
    (result,) = json.loads((tmp_path / "real_data.json").read_text())["rows"]
    assert result["steps"] == 5 and 0 < result["l1_held"] < 2 and 0 < result["l1_copy"] < 2
    assert "| pytorch | 0 | 5 |" in (tmp_path / "real_data.md").read_text()


@pytest.mark.slow
def test_script_runs_a_short_grid_and_writes_its_files(tmp_path):
    command = [sys.executable, str(ROOT / "benchmarks" / "real_data.py"), "--topics", "gan", "--frameworks"]
    command += ["pytorch", "--datasets", "digits", "--seeds", "0", "--steps", "20", "--out", str(tmp_path)]
    process = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert process.returncode == 1, process.stdout + process.stderr  # 20 steps can't reach the bar
    (result,) = json.loads((tmp_path / "real_data.json").read_text())["rows"]
    assert result["steps"] == 20 and 0 < result["coverage"] <= 1 and result["fd"] > result["fd_real"]
    assert "| gan | pytorch | digits | 0 | 20 |" in (tmp_path / "real_data.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("framework", real_data.FRAMEWORKS)
def test_default_dcgan_learns_real_digits(framework):
    """The DCGAN's default config on the 1797 real digits: samples of at least 9 digits of 10."""
    args = argparse.Namespace(steps=0, threads=2, timeout=1800)
    result = real_data.run_one("dcgan", framework, "digits", 0, args)
    assert "error" not in result, result.get("error")
    assert result["coverage"] >= real_data.BAR, result
