"""Grade a student's tree: ``python -m gendojo grade DIR`` from any folder.

    python -m gendojo grade mywork                         # every topic found in mywork/
    python -m gendojo grade /abs/mywork --topic ae --framework pytorch
    python -m gendojo grade mywork --report report.md --json r.json --junit r.xml
    python -m gendojo grade mywork --grading course.toml   # points, limits, hidden checks
    python -m gendojo grade class --class --out reports    # every student folder of class/

It runs the checkout's harness (``tests/``, the same checks as ``pytest --answers DIR``) on DIR,
each answer in its own sealed process (``gendojo.sandbox``). Paths are read relative to the
folder it is started from. Exit status: 0 full marks, 1 some checks failed, 2 or more the grading
itself could not run. With ``--class``, DIR holds one tree per student (``gendojo.classroom``).
"""

import argparse
import ast
import os
import subprocess
import sys
from pathlib import Path

from gendojo.errors import GenDojoError
from gendojo.sandbox import KIT_ROOT

TESTS = KIT_ROOT / "tests"


def checks_answers(path):
    """Whether a test module has a check that runs on answers (a test taking ``answer``)."""
    return any(
        isinstance(node, ast.FunctionDef)
        and node.name.startswith("test")
        and {"answer", "answer_ref"} & {a.arg for a in node.args.args}
        for node in ast.walk(ast.parse(path.read_text()))
    )


def answer_check_modules():
    """The test modules grading collects: those with checks of answers (the kit's own tests
    would only be deselected, after costing their imports)."""
    return sorted(str(p) for p in TESTS.glob("test_*.py") if checks_answers(p))


class NoAnswers(GenDojoError):
    """The tree holds no topic folder the harness knows."""


def pytest_command(answers, topics=(), frameworks=(), report=None, json_path=None, junit=None,
                   grading=None, time_limit=None, jobs=1, quiet=True):  # fmt: skip
    """The pytest command line that grades ``answers`` (all paths made absolute)."""
    if not (TESTS / "conftest.py").is_file():
        raise GenDojoError(
            f"the grader's checks are not at {TESTS}: grade from a GenDojo checkout set up with "
            "`bash setup.sh` (it installs the kit in place)"
        )
    answers = Path(answers).expanduser().resolve()
    if not answers.is_dir():
        raise GenDojoError(f"{answers}: no such folder (it should look like answers/, one folder per topic)")
    command = [
        sys.executable,
        "-m",
        "pytest",
        *answer_check_modules(),
        "--rootdir",
        str(KIT_ROOT),
        "-p",
        "no:cacheprovider",
        "-m",
        "not slow and not e2e",  # heavy checks too: the default test run leaves them to CI's e2e step
    ]
    command += ["--answers", str(answers), "--grade-only"]
    for topic in topics:
        command += ["--topic", topic]
    for framework in frameworks:
        command += ["--framework", framework]
    for flag, path in (("--grade-report", report), ("--grade-json", json_path), ("--grade-junit", junit)):
        if path:
            command += [flag, str(Path(path).expanduser().resolve())]
    if grading:
        grading = Path(grading).expanduser().resolve()
        if not grading.is_file():
            raise GenDojoError(f"--grading {grading}: no such file")
        command += ["--grading", str(grading)]
    if time_limit:
        command += ["--time-limit", str(time_limit)]
    if jobs and jobs > 1:
        command += ["-n", str(jobs), "--dist", "loadgroup"]
    else:
        command += ["-p", "no:xdist"]
    if quiet:
        command += ["-q", "--no-header", "-rN", "--tb=no"]
    return command


def environment():
    """The grader's environment: TensorFlow's C++ start-up lines are noise in a report."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def start(command, log=None):
    """Start a grading command, its output to the terminal or to the open file ``log``."""
    output = {} if log is None else {"stdout": log, "stderr": subprocess.STDOUT}
    return subprocess.Popen(command, cwd=KIT_ROOT, env=environment(), **output)


def outcome(code, answers, log=None):
    """The grader's exit status as GenDojo's: 0 full marks, 1 a check failed; else an error,
    explained by the last line of ``log`` (the file its output went to) if there is one."""
    if code == 5:
        raise NoAnswers(
            f"no answers to grade in {Path(answers).resolve()}: expected topic folders such as ae/"
        )
    if code not in (0, 1):
        lines = Path(log).read_text(errors="replace").split("\n") if log else []
        last = next((line.strip() for line in reversed(lines) if line.strip()), "")
        why = f": {last[:300]} (all of it: {log})" if last else " (see its output above)"
        raise GenDojoError(f"the grader stopped with exit status {code}{why}")
    return code


def parser():
    p = argparse.ArgumentParser(prog="python -m gendojo grade", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "answers",
        help="the student's tree (laid out like answers/: DIR/<topic>/<topic>_<framework>.py); "
        "with --class, a folder of such trees, one per student",
    )
    p.add_argument("--topic", action="append", default=[], help="only this topic (repeatable)")
    p.add_argument("--framework", action="append", default=[], help="only this framework (repeatable)")
    p.add_argument("--report", help="write the Markdown grade report here")
    p.add_argument("--json", help="write every check's result as JSON here")
    p.add_argument("--junit", help="write the checks as JUnit XML here")
    p.add_argument("--grading", help="a grading file (TOML): points per check, limits, hidden checks")
    p.add_argument("--time-limit", type=float, help="seconds one training or command-line run may take")
    p.add_argument(
        "-j", "--jobs", type=int,
        help="answers graded at once (default 1); with --class, students graded at once (default: one per core)",
    )  # fmt: skip
    p.add_argument(
        "--class", dest="whole_class", action="store_true",
        help="DIR holds one tree per student: grade them all, resumably, with a roster CSV",
    )  # fmt: skip
    p.add_argument("--out", help="with --class: the folder for the reports and roster.csv (default: reports)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        raise GenDojoError(f"-j {args.jobs}: give 1 or more")
    if args.whole_class:
        from gendojo import classroom

        raise SystemExit(classroom.main(args))
    if args.out:
        raise GenDojoError("--out is for --class; one tree's results go to --report, --json and --junit")
    command = pytest_command(
        args.answers, args.topic, args.framework, args.report, args.json, args.junit, args.grading,
        args.time_limit, args.jobs or 1,
    )  # fmt: skip
    raise SystemExit(outcome(start(command).wait(), args.answers))
