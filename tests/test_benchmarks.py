"""The benchmarks (benchmarks/): the throughput script writes its table, and every reference loop
does its answer's arithmetic (the same losses, step by step, from the same weights and inputs).

The script runs one topic in one or two frameworks with a few steps; the equivalence check runs
for AE and DCGAN in all four frameworks by default and for the other topics with ``-m slow``.
"""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import equivalence  # noqa: E402

FRAMEWORKS = ("pytorch", "tensorflow", "keras", "chainer")
# in the default run: the AE's reference in every framework, the DCGAN's where it needs no compiling
FAST = {("ae", f) for f in FRAMEWORKS} | {("dcgan", "pytorch"), ("dcgan", "chainer")}


@pytest.mark.e2e  # the benchmark command end to end: CI's e2e step
def test_throughput_script_writes_its_table(tmp_path):
    out = tmp_path / "results"
    command = [sys.executable, "benchmarks/throughput.py", "--topics", "ae", "--frameworks", "pytorch"]
    command += ["chainer", "--warmup", "2", "--window", "3", "--rounds", "1", "--threads", "1"]
    command += ["--wait-quiet", "0", "--retries", "0"]  # in a test run, the other worker is always busy
    process = subprocess.run(
        [*command, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert process.returncode == 0, process.stdout + process.stderr

    table = (out / "throughput.md").read_text()
    assert "| topic | framework | answer ms/step | IQR | reference ms/step | IQR | ratio |" in table
    assert "**machine:**" in table and "**threads:** 1 per process" in table
    assert "--warmup 2 --window 3" in table  # the exact command

    rows = list(csv.DictReader((out / "throughput.csv").open()))
    assert [(row["topic"], row["framework"]) for row in rows] == [("ae", "pytorch"), ("ae", "chainer")]
    for row in rows:
        answer, reference = float(row["answer_median_ms"]), float(row["reference_median_ms"])
        assert answer > 0 and reference > 0
        assert float(row["ratio"]) == pytest.approx(answer / reference, rel=1e-3)
        assert int(row["answer_steps"]) == int(row["reference_steps"]) == 3
        assert f"| ae | {row['framework']} | {answer:.1f} |" in table

    report = json.loads((out / "throughput.json").read_text())
    assert report["meta"]["machine"]["packages"]["torch"]
    runs = [run for row in report["rows"] for kind in ("answer", "reference") for run in row[f"{kind}_runs"]]
    assert len(runs) == 4 and all(len(run["step_ms"]) == 3 for run in runs)
    torch_run = report["rows"][0]["answer_runs"][0]
    assert torch_run["threads"]["torch_threads"] == 1 and torch_run["threads"]["OMP_NUM_THREADS"] == "1"


def test_update_replaces_only_the_rows_measured_again():
    from benchmarks import throughput

    def report(rows, date):
        meta = {"date": date, "command": f"run on {date}", "threads": 2, "load_start": 0.1, "load_end": 0.2}
        meta |= {"others_shares": [0.01], "total_s": 60.0}
        return {"meta": meta, "rows": [{"topic": t, "framework": f, "ms": ms} for t, f, ms in rows]}

    old = report([("ae", "pytorch", 3.0), ("wgan", "keras", 244.0), ("wgan", "chainer", 412.0)], "day 1")
    new = report([("wgan", "keras", 120.0), ("gan", "keras", 20.0)], "day 2")
    merged = throughput.merge(old, new)
    assert [(r["topic"], r["framework"], r["ms"]) for r in merged["rows"]] == [
        ("ae", "pytorch", 3.0),
        ("gan", "keras", 20.0),
        ("wgan", "keras", 120.0),
        ("wgan", "chainer", 412.0),
    ]
    assert merged["meta"]["date"] == "day 1"  # the header is the first run's
    (line,) = throughput.update_lines(merged["meta"])
    assert "gan keras, wgan keras on day 2 (" in line and "`run on day 2`" in line
    old["meta"]["machine"], new["meta"]["machine"] = {"cpu": "AMD EPYC"}, {"cpu": "Intel Xeon"}
    (line,) = throughput.update_lines(throughput.merge(old, new)["meta"])
    assert "on day 2, **on another machine: Intel Xeon**, (" in line


def test_grading_margins_part_run_replaces_only_its_rows(tmp_path, monkeypatch):
    """``grading_margins.py --topics wgan`` rewrites the wgan rows of the committed table, keeps the
    others and their header, and says when the wgan rows were measured again."""
    import shutil

    from benchmarks import grading_margins

    results = ROOT / "benchmarks" / "results"
    for suffix in (".json", ".md"):
        shutil.copy(results / f"grading_margins{suffix}", tmp_path / f"grading_margins{suffix}")
    before = json.loads((tmp_path / "grading_margins.json").read_text())
    header = (tmp_path / "grading_margins.md").read_text().splitlines()[2]
    fake = {"a check": (0.5, 1.0, "below")}
    monkeypatch.setattr(grading_margins, "measure", lambda answer, topic, seed: fake)
    monkeypatch.setattr(grading_margins.harness, "load", lambda ref: None)
    monkeypatch.setattr(grading_margins.harness, "release", lambda ref: None)
    out = str(tmp_path / "grading_margins")
    grading_margins.main(["--topics", "wgan", "--frameworks", "keras", "--out", out, "--why", "a test"])
    after = json.loads((tmp_path / "grading_margins.json").read_text())
    others = [r for r in before if (r["topic"], r["framework"]) != ("wgan", "keras")]
    assert [r for r in after if (r["topic"], r["framework"]) != ("wgan", "keras")] == others
    (new,) = [r for r in after if (r["topic"], r["framework"]) == ("wgan", "keras")]
    assert new["quantity"] == "a check" and new["values"] == [0.5, 0.5, 0.5]
    # in place: after wgan tensorflow, before wgan chainer
    names = [(r["topic"], r["framework"]) for r in after]
    assert names.index(("wgan", "keras")) == names.index(("wgan", "chainer")) - 1
    text = (tmp_path / "grading_margins.md").read_text()
    assert text.splitlines()[2] == header and text.count("| wgan | keras |") == 1
    assert "The wgan rows (keras) were measured again on" in text and ", a test." in text
    assert "`python benchmarks/grading_margins.py --topics wgan --frameworks keras`" in text


CASES = [
    pytest.param(
        topic,
        framework,
        marks=() if (topic, framework) in FAST else pytest.mark.slow,
        id=f"{topic}-{framework}",
    )
    for topic in equivalence.TOPICS
    for framework in FRAMEWORKS
]


@pytest.mark.parametrize(("topic", "framework"), CASES)
def test_reference_does_the_answers_update(topic, framework):
    answer_losses, reference_losses = equivalence.check(topic, framework, steps=2)
    assert len(answer_losses) == len(reference_losses) == 2


def test_equivalence_check_notices_another_update():
    # The reference with 10 × the learning rate: the same first loss, another one after the update.
    answer_losses, reference_losses = equivalence.compare("ae", "pytorch", reference_overrides={"lr": 1e-2})
    assert reference_losses[0]["loss"] == pytest.approx(answer_losses[0]["loss"], rel=1e-6)
    assert reference_losses[1]["loss"] != pytest.approx(answer_losses[1]["loss"], rel=1e-3)
