"""``python -m gendojo grade CLASS --class``: every student is graded, each gets a report and
results, the roster's numbers are those results, and a second run grades only the students whose
results are missing or older than their files.

Three students, cheap on purpose: two trees whose ``ae_pytorch.py`` is missing (each check fails at
once) and one with the reference answer (about 10 s of CPU). Only PyTorch is graded.
"""

import csv
import json
import os
import shlex
import subprocess
import sys
from collections import defaultdict

import pytest
from harness import REFERENCE
from test_grade_commands import readme_commands

pytestmark = pytest.mark.e2e  # a step of its own in CI (.ci/run): pytest -m e2e

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
COMMAND = [c for c in readme_commands("python -m gendojo grade ") if "--class" in c]
STUDENTS = ("alice", "bob", "carol")


def run(words, cwd, timeout=300):
    words = [sys.executable if w == "python" else w for w in words]
    return subprocess.run(words, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=ENV)


def grade_class(folder):
    """The README's class command, as written but for PyTorch only, from a folder outside the checkout."""
    return run(shlex.split(COMMAND[0]) + ["--framework", "pytorch"], folder)


def lines_about(output, word):
    """The students the output says ``<student>: <word>…`` of."""
    return sorted(
        line.split(":")[0] for line in output.splitlines() if line.split(": ", 1)[-1].startswith(word)
    )


def check_roster(reports):
    """Each roster row, recomputed from that student's results.json: points per question, total
    and maximum over the checks that ran. Returns {student: (total, max)}."""
    with open(reports / "roster.csv", newline="") as file:
        roster = list(csv.DictReader(file))
    assert [r["student"] for r in roster] == list(STUDENTS), roster
    for row in roster:
        results = json.loads((reports / row["student"] / "results.json").read_text())
        answer = (row["topic"], row["framework"])
        ran = [r for r in results if r["outcome"] != "skipped" and (r["topic"], r["framework"]) == answer]
        assert ran, row
        earned = defaultdict(float)
        for result in ran:
            earned[result["question"]] += result["points"]
        questions = [key for key in row if key.startswith("Q")]
        assert questions == ["Q0", "Q1", "Q2", "Q3", "Q4"], row
        assert {q: float(row[q]) for q in questions} == {q: earned[q] for q in questions}, row
        assert float(row["total"]) == sum(r["points"] for r in ran), row
        assert float(row["max"]) == sum(r["max_points"] for r in ran) > 0, row
    return {row["student"]: (float(row["total"]), float(row["max"])) for row in roster}


def test_grade_a_class_then_resume(tmp_path):
    """One scenario, so that pytest-xdist keeps it in one worker: grade, then run again twice."""
    assert len(COMMAND) == 1 and "--out reports" in COMMAND[0], COMMAND
    for student in STUDENTS:
        (tmp_path / "class" / student / "ae").mkdir(parents=True)
    (tmp_path / "class" / "bob" / "ae" / "ae_pytorch.py").write_text(
        (REFERENCE / "ae" / "ae_pytorch.py").read_text()
    )
    reports = tmp_path / "reports"

    done = grade_class(tmp_path)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]  # two students miss a file
    assert lines_about(done.stdout, "graded") == list(STUDENTS), done.stdout
    for student in STUDENTS:
        assert (reports / student / "report.md").is_file()
        rows = json.loads((reports / student / "results.json").read_text())
        assert {r["framework"] for r in rows} == {"pytorch"} and len(rows) >= 8, rows
        outcomes = {r["outcome"] for r in rows}
        assert outcomes == ({"passed"} if student == "bob" else {"failed"}), (student, rows)
    assert "bob: graded, 14/14 points" in done.stdout, done.stdout
    totals = check_roster(reports)
    assert totals["bob"] == (14, 14) and totals["alice"] == (0, 14), totals

    stamps = {s: (reports / s / "results.json").stat().st_mtime_ns for s in STUDENTS}
    again = grade_class(tmp_path)
    assert again.returncode == 1, again.stderr[-2000:]
    assert lines_about(again.stdout, "up to date") == list(STUDENTS), again.stdout
    assert "graded," not in again.stdout, again.stdout
    assert {s: (reports / s / "results.json").stat().st_mtime_ns for s in STUDENTS} == stamps

    (reports / "carol" / "results.json").unlink()  # as if grading had stopped while on carol
    resumed = grade_class(tmp_path)
    assert resumed.returncode == 1, resumed.stderr[-2000:]
    assert lines_about(resumed.stdout, "graded") == ["carol"], resumed.stdout
    assert lines_about(resumed.stdout, "up to date") == ["alice", "bob"], resumed.stdout
    assert (reports / "carol" / "results.json").stat().st_mtime_ns > stamps["carol"]

    (tmp_path / "class" / "alice" / "ae" / "notes.txt").write_text("a file added since alice was graded\n")
    changed = grade_class(tmp_path)
    assert lines_about(changed.stdout, "graded") == ["alice"], changed.stdout
    assert lines_about(changed.stdout, "up to date") == ["bob", "carol"], changed.stdout
    assert (reports / "bob" / "results.json").stat().st_mtime_ns == stamps["bob"]
    assert check_roster(reports) == totals


def test_class_mistakes_are_one_line(tmp_path):
    (tmp_path / "mywork" / "ae").mkdir(parents=True)
    for words, says in [
        (["mywork", "--class"], "looks like one student's tree"),  # one tree, not a class
        (["mywork", "--class", "--json", "r.json"], "--json is for one tree"),
        (["mywork", "--out", "reports"], "--out is for --class"),
        (["nowhere", "--class"], "no such folder"),
    ]:
        done = run(["python", "-m", "gendojo", "grade", *words], tmp_path)
        assert done.returncode == 2 and says in done.stderr, (words, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
