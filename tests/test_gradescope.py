"""``python -m gendojo gradescope``: the autograder zip, and its ``run_autograder`` run the way
Gradescope runs it, in a folder laid out like ``/autograder`` (``source/`` the unzipped autograder,
``submission/``, ``results/``), with this environment's Python instead of the one ``setup.sh``
would install. Whatever happens, ``results/results.json`` must follow Gradescope's format.

One submission is graded for real (the reference ``ae_pytorch.py``, about 10 s of CPU); the others
fail at once.
"""

import json
import math
import os
import shlex
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from harness import REFERENCE
from test_grade_commands import readme_commands

pytestmark = pytest.mark.e2e  # a step of its own in CI (.ci/run): pytest -m e2e

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
COMMANDS = readme_commands("python -m gendojo gradescope")
# Course settings laid over the defaults: one check worth more, one hidden from students.
COURSE = """hidden = ["same_seed_same_history"]

[checks]
parameter_counts = { question = "Q1", points = 5 }
"""
FULL_MARKS = 14 - 2 + 5  # ae · pytorch by default, with parameter_counts worth 5 instead of 2


def run(words, cwd, env=ENV, timeout=300):
    words = [sys.executable if w == "python" else w for w in words]
    return subprocess.run(words, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """The zip the README's first command writes with the course's grading file added, built from
    a folder outside the checkout."""
    folder = tmp_path_factory.mktemp("instructor")
    (folder / "course.toml").write_text(COURSE)
    done = run(shlex.split(COMMANDS[0]) + ["--grading", "course.toml"], folder)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder / "autograder.zip"


def gradescope(autograder, root, submission, env=None, change_source=None):
    """Run ``run_autograder`` as Gradescope would: unzipped into ``root/source``, the student's
    files in ``root/submission`` ({relative path: text, or a Path to link to}), working folder
    ``root``. Returns the results.json it wrote and its output."""
    with zipfile.ZipFile(autograder) as archive:
        archive.extractall(root / "source")
    if change_source:
        change_source(root / "source")
    for name, content in submission.items():
        path = root / "submission" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            path.symlink_to(content)
        else:
            path.write_text(content)
    (root / "submission").mkdir(exist_ok=True)
    env = {**ENV, "AUTOGRADER_ROOT": str(root), "GENDOJO_PYTHON": sys.executable, **(env or {})}
    done = run(["bash", str(root / "source" / "run_autograder")], root, env=env)
    results = json.loads((root / "results" / "results.json").read_text())
    check_results_format(results)
    return results, done.stdout + done.stderr


TOP_LEVEL = {"score", "execution_time", "output", "output_format", "tests", "visibility"}
TOP_LEVEL |= {"stdout_visibility", "extra_data"}


def check_results_format(results):
    """Gradescope's results.json (gradescope-autograders.readthedocs.io/en/latest/specs/): the keys
    and types it reads, the values it accepts, and a score that is the sum of the tests' scores."""
    assert isinstance(results, dict), results
    assert set(results) <= TOP_LEVEL, set(results) - TOP_LEVEL
    for key, kind in {"score": (int, float), "execution_time": int, "output": str, "tests": list}.items():
        assert key in results and isinstance(results[key], kind), (key, results.get(key))
    assert not isinstance(results["score"], bool) and results["score"] >= 0
    numbers = []
    for test in results["tests"]:
        fields = {"name", "number", "score", "max_score", "status", "output", "output_format", "visibility"}
        assert set(test) == fields, set(test) ^ fields
        assert isinstance(test["name"], str) and test["name"], test
        assert isinstance(test["number"], str) and isinstance(test["output"], str), test
        for key in ("score", "max_score"):
            assert isinstance(test[key], int | float) and not isinstance(test[key], bool), test
        assert test["status"] in ("passed", "failed"), test
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published"), test
        assert test["output_format"] in ("text", "html", "simple_format", "md", "ansi"), test
        # a check's points are all or nothing
        assert (
            test["score"] == (test["max_score"] if test["status"] == "passed" else 0)
            and test["max_score"] >= 0
        ), test
        numbers.append(test["number"])
    assert len(set(numbers)) == len(numbers), numbers
    assert math.isclose(results["score"], sum(t["score"] for t in results["tests"])), results["score"]


def by_check(results):
    return {t["name"].split(": ", 1)[1]: t for t in results["tests"]}


def test_the_readme_commands_write_a_zip_with_what_grading_needs(tmp_path):
    assert len(COMMANDS) >= 2, COMMANDS
    (tmp_path / "course.toml").write_text(COURSE)
    for command in COMMANDS:
        done = run(shlex.split(command), tmp_path)
        assert done.returncode == 0, f"{command}: {done.stderr[-1500:]}"
    with zipfile.ZipFile(tmp_path / "autograder.zip") as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        archive.extractall(tmp_path / "source")
    for name in ("setup.sh", "run_autograder"):
        assert modes[name] & stat.S_IXUSR, f"{name} must be executable"
    needed = [
        "kit/gendojo/grade.py", "kit/gendojo/grading.toml", "kit/tests/conftest.py", "kit/tests/harness.py",
        "kit/tests/test_answers.py", "kit/tests/test_learning.py", "kit/tests/topics/ae.py",
        "kit/answers/ae/ae_pytorch.py", "kit/questions/ae.md", "kit/pyproject.toml",
        "kit/requirements.txt", "kit/setup.sh", "kit/README.md", "kit/gradescope.json",
    ]  # fmt: skip
    assert not set(needed) - names, set(needed) - names
    assert not [n for n in names if n.startswith(("kit/answers/vae", "kit/benchmarks"))], names
    assert "kit/tests/test_grade_commands.py" not in names and not [n for n in names if "__pycache__" in n]
    settings = json.loads((tmp_path / "source" / "kit" / "gradescope.json").read_text())
    assert settings["topics"] == ["ae"] and settings["frameworks"] == ["pytorch"], settings
    for script in ("setup.sh", "run_autograder", "kit/setup.sh"):
        checked = subprocess.run(
            ["bash", "-n", str(tmp_path / "source" / script)], capture_output=True, text=True
        )
        assert checked.returncode == 0, f"{script}: {checked.stderr}"
    with zipfile.ZipFile(tmp_path / "hw3.zip") as archive:
        assert {"kit/course-grading.toml", "kit/answers/gan/gan_keras.py", "kit/questions/vae.md"} <= set(
            archive.namelist()
        )


def test_a_good_submission_gets_full_marks(autograder, tmp_path):
    """The student's file uploaded flat, as Gradescope stores it; the course's points and hidden check."""
    source = (REFERENCE / "ae" / "ae_pytorch.py").read_text()
    results, output = gradescope(autograder, tmp_path, {"ae_pytorch.py": source})
    assert results["score"] == FULL_MARKS, output[-3000:]
    assert {t["status"] for t in results["tests"]} == {"passed"}, results
    checks = by_check(results)
    assert checks["trainable parameters per network match the sheet"]["max_score"] == 5
    hidden = checks["the same seed gives the same history"]
    assert hidden["visibility"] == "after_published", hidden
    assert [t for t in results["tests"] if t["visibility"] != "visible"] == [hidden]
    assert f"ae · pytorch: {FULL_MARKS}/{FULL_MARKS} points" in results["output"], results["output"]


def test_a_broken_submission_in_a_tree_fails_its_checks(autograder, tmp_path):
    """A syntax error, uploaded as a tree (mywork/ae/ae_pytorch.py): every check fails and says why;
    the checks are the ones the checkout's grader runs on the same tree."""
    results, output = gradescope(autograder, tmp_path, {"mywork/ae/ae_pytorch.py": "def broken(:\n"})
    assert results["score"] == 0 and results["tests"], output[-3000:]
    assert {t["status"] for t in results["tests"]} == {"failed"}
    assert all("syntax error" in t["output"] for t in results["tests"]), results["tests"]
    (tmp_path / "course.toml").write_text(COURSE)
    here = run(
        ["python", "-m", "gendojo", "grade", "submission/mywork", "--framework", "pytorch", "--json", "r.json",
         "--grading", "course.toml"], tmp_path,
    )  # fmt: skip
    assert here.returncode == 1, here.stdout[-2000:] + here.stderr
    rows = json.loads((tmp_path / "r.json").read_text())
    assert len(rows) == len(results["tests"]) and sum(r["max_points"] for r in rows) == FULL_MARKS


def test_a_missing_file_or_a_link_to_the_answers_gets_nothing(autograder, tmp_path):
    """A link is not followed: it could point at the instructor's answer beside the autograder."""
    reference = tmp_path / "source" / "kit" / "answers" / "ae" / "ae_pytorch.py"
    results, output = gradescope(autograder, tmp_path, {"ae_pytorch.py": reference, "notes.txt": "hello\n"})
    assert results["score"] == 0 and results["tests"], output[-3000:]
    assert all("ae_pytorch.py is missing" in t["output"] for t in results["tests"]), results["tests"]
    assert (
        "not a plain file" in results["output"]
        and "not in your submission: ae_pytorch.py" in results["output"]
    )


def _broken_grading_file(source):
    (source / "kit" / "course-grading.toml").write_text("[checks]\nimports = 3\n")


def _no_tests(source):
    shutil.rmtree(source / "kit" / "tests")


@pytest.mark.parametrize(
    "breakage, env, says",
    [
        (_broken_grading_file, None, "checks.imports must be"),
        (_no_tests, None, "the grader's checks are not at"),
        (None, {"GENDOJO_PYTHON": "/nowhere/python"}, "the grader stopped without a result"),
    ],
    ids=["invalid grading file", "no tests folder", "no Python"],
)
def test_grading_that_cannot_run_still_writes_results(autograder, tmp_path, breakage, env, says):
    source = (REFERENCE / "ae" / "ae_pytorch.py").read_text()
    results, output = gradescope(autograder, tmp_path, {"ae_pytorch.py": source}, env, breakage)
    assert results["score"] == 0 and results["tests"] == [], results
    assert says in results["output"], (results["output"], output[-2000:])
    if breakage is _no_tests:  # the autograder's own copy of GenDojo was the one that ran
        assert str(tmp_path / "source" / "kit" / "tests") in results["output"], results["output"]


def test_gradescope_mistakes_are_one_line(tmp_path):
    (tmp_path / "bad.toml").write_text("[checks\n")
    for words, says in [
        ([], "name the assignment's topics with --topic"),
        (["--topic", "nope"], "--topic nope: not a GenDojo topic"),
        (["--topic", "ae", "--framework", "jax"], "--framework jax"),
        (["--topic", "ae", "--grading", "bad.toml"], "--grading bad.toml"),
    ]:
        done = run(["python", "-m", "gendojo", "gradescope", *words], tmp_path)
        assert done.returncode == 2 and says in done.stderr, (words, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
