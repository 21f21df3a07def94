"""Every grading command the README shows and the starter prints works as written, from a folder
outside the checkout, with a relative and an absolute path (the way an instructor types them).

The tree graded here is cheap on purpose: a topic folder without its files, so that each check
fails at once with "is missing". What is tested is the command, not the answers.
"""

import json
import os
import re
import shlex
import subprocess
import sys

import pytest
from harness import ROOT

pytestmark = pytest.mark.e2e  # a step of its own in CI (.ci/run): pytest -m e2e

README = (ROOT / "README.md").read_text()
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def readme_commands(program):
    """The README's command lines that start with ``program``, comments dropped."""
    blocks = re.findall(r"^```\n(.*?)^```", README, re.M | re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith(program)]


GRADE = [c for c in readme_commands("python -m gendojo grade ") if "--class" not in c]  # test_class.py
STARTER = readme_commands("python -m gendojo starter")


def test_the_readme_shows_grading_and_starter_commands():
    assert len(GRADE) >= 4 and len(STARTER) >= 2, (GRADE, STARTER)
    assert not readme_commands("pytest --answers"), "grading commands in the README must work from any folder"
    # nor in the sheets: `pytest --answers mywork` collects nothing outside the GenDojo folder
    sheets = sorted((ROOT / "questions").glob("*.md"))
    showing = [sheet.name for sheet in sheets if "pytest --answers" in sheet.read_text()]
    assert len(sheets) > 8 and not showing, (
        f"sheets that show `pytest --answers`, which runs no check from elsewhere: {showing}"
    )


def run(words, cwd, timeout=300):
    words = [sys.executable if w == "python" else w for w in words]
    return subprocess.run(words, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=ENV)


def tree_of_missing_files(folder):
    (folder / "ae").mkdir(parents=True)
    return folder


@pytest.mark.parametrize("style", ["relative", "absolute"])
@pytest.mark.parametrize("command", GRADE)
def test_readme_grade_command(command, style, tmp_path):
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    tree = tree_of_missing_files(tmp_path / "mywork")
    (cwd / "course.toml").write_text('[checks]\nimports = { question = "Q0", points = 5 }\n')
    path = "../mywork" if style == "relative" else str(tree)
    words = [path if w == "mywork" else w for w in shlex.split(command)]
    done = run(words, cwd)
    output = done.stdout + done.stderr
    assert done.returncode == 1, f"{command} ({style}): exit {done.returncode}\n{output[-2000:]}"
    assert "unrecognized arguments" not in output and "error:" not in output, output[-2000:]
    assert "ae_pytorch.py is missing" in output, output[-2000:]
    for name in re.findall(r"(?:--report|--json|--junit) (\S+)", command):
        assert (cwd / name).is_file(), f"{command}: {name} was not written into the folder it was run from"
    if "--json" in command:
        rows = json.loads((cwd / "r.json").read_text())
        assert {row["outcome"] for row in rows} == {"failed"} and all("points" in row for row in rows)
    if "--grading" in command:  # imports worth 5 instead of 1: 14 - 1 + 5 points for ae · pytorch
        assert re.search(r"ae +pytorch .* 0/18 points", output), output[-2000:]


def test_starter_commands_and_the_command_the_starter_prints(tmp_path):
    """Each README starter command works from elsewhere, and the grading command the starter prints
    (with an absolute path) then works from yet another folder."""
    for number, command in enumerate(STARTER):
        cwd = tmp_path / f"run{number}"
        cwd.mkdir()
        done = run(shlex.split(command), cwd, timeout=120)
        assert done.returncode == 0, f"{command}: {done.stderr[-1500:]}"
        assert (cwd / "mywork" / "README.md").is_file()
    cwd = tmp_path / "student"
    cwd.mkdir()
    done = run(["python", "-m", "gendojo", "starter", "mywork", "--topic", "ae"], cwd, timeout=120)
    printed = [line for line in done.stdout.splitlines() if line.startswith("check them with: ")]
    assert printed, done.stdout
    command = printed[0].removeprefix("check them with: ").replace("<topic>", "ae")
    assert str(cwd / "mywork") in command, f"the printed command should name the tree absolutely: {command}"
    assert command in (cwd / "mywork" / "README.md").read_text().replace("<topic>", "ae")
    other = tmp_path / "somewhere-else"
    other.mkdir()
    graded = run(shlex.split(command) + ["--framework", "pytorch"], other)
    assert graded.returncode == 1, graded.stdout[-2000:] + graded.stderr[-2000:]
    assert "Q1 of questions/ae.md is not implemented yet" in graded.stdout, graded.stdout[-2000:]


@pytest.mark.parametrize("where", ["checkout, absolute", "outside, relative"])
def test_the_pytest_form(where, tmp_path):
    tree = tree_of_missing_files(tmp_path / "mywork")
    if where.startswith("checkout"):
        words, cwd = ["python", "-m", "pytest", "--answers", str(tree), "-p", "no:cacheprovider"], ROOT
    else:
        words, cwd = (
            ["python", "-m", "pytest", str(ROOT / "tests"), "--answers", "mywork", "-p", "no:cacheprovider"],
            tmp_path,
        )
    done = run(words + ["--framework", "pytorch", "-p", "no:xdist"], cwd)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-1000:]
    assert "ae_pytorch.py is missing" in done.stdout


def test_a_bad_folder_is_one_line(tmp_path):
    done = run(["python", "-m", "gendojo", "grade", str(tmp_path / "nope")], tmp_path)
    assert done.returncode == 2 and done.stderr.strip().startswith("error:"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run(["python", "-m", "gendojo", "grade", "empty"], tmp_path)
    assert done.returncode == 2 and "no answers to grade" in done.stderr, done.stdout[-1000:] + done.stderr
