"""A Gradescope autograder for chosen topics and frameworks, and what runs inside it.

    python -m gendojo gradescope --topic ae --framework pytorch --out autograder.zip
    python -m gendojo gradescope --topic vae --topic gan --grading course.toml --out hw3.zip

The zip holds Gradescope's two scripts and, in ``kit/``, the part of this checkout grading needs:
``gendojo/``, the harness's files of ``tests/``, the chosen topics' answers and sheets (the checks
read the reference's config and the sheet's parameter table), ``pyproject.toml``,
``requirements.txt``, ``setup.sh`` and ``README.md``. Gradescope runs ``setup.sh`` once (Python
3.11, then GenDojo's own ``setup.sh``) and ``run_autograder`` per submission, which calls
``python -m gendojo.gradescope ROOT``: it grades ``ROOT/submission`` and writes
``ROOT/results/results.json`` in Gradescope's format, also when grading itself fails.
"""

import argparse
import ast
import json
import shutil
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path

from gendojo.errors import GenDojoError
from gendojo.frameworks import FRAMEWORKS
from gendojo.grade import checks_answers, outcome, pytest_command, start
from gendojo.grading import CHECK_TITLES, load_grading
from gendojo.sandbox import KIT_ROOT

SETTINGS = "gradescope.json"  # in kit/: topics, frameworks, grading file, limits
KIT = "kit"  # the checkout's files sit in kit/ of the zip, beside Gradescope's own setup.sh

SETUP = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image: Python 3.11 (the
# image's own if it has one, else from the deadsnakes PPA), then GenDojo's setup.sh in kit/.
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive
if ! python3.11 -c "import ensurepip, venv" 2>/dev/null; then
    apt-get update
    apt-get install -y software-properties-common
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update
    apt-get install -y python3.11 python3.11-venv python3.11-dev
fi
# PyPI's Linux torch wheels pull several GB of CUDA libraries; the CPU build is all grading needs.
export PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
bash kit/setup.sh "$(command -v python3.11)"
"""

RUN = r"""#!/usr/bin/env bash
# Gradescope runs this for every submission: GenDojo grades ROOT/submission (ROOT: $AUTOGRADER_ROOT,
# default /autograder) with ROOT/source/kit and writes ROOT/results/results.json. That file is
# always written: if the grader cannot start, or dies, it says so with a score of 0.
# GENDOJO_PYTHON overrides the Python (default: the kit's .venv, made by setup.sh).
root=${AUTOGRADER_ROOT:-/autograder}
kit=$root/source/kit
python=${GENDOJO_PYTHON:-$kit/.venv/bin/python}
results=$root/results/results.json
mkdir -p "$root/results"
rm -f "$results"
log=$(mktemp)
(cd "$kit" && PYTHONPATH="$kit" "$python" -m gendojo.gradescope "$root") 2>&1 | tee "$log"
if [ ! -s "$results" ]; then
    why=$(tail -c 1500 "$log" | tr '\n\t' '  ' | LC_ALL=C tr -cd ' -~' | tr -d '"\\')
    printf '{"score": 0, "execution_time": %d, "output": "GenDojo could not grade this submission: the grader stopped without a result (%s). Please tell your instructor.", "tests": []}\n' \
        "$SECONDS" "$why" >"$results"
fi
rm -f "$log"
"""


# --- building the zip ---------------------------------------------------------------------------


def known_topics():
    """Topics with a harness spec, a reference answer folder and a sheet."""
    specs = {p.stem for p in (KIT_ROOT / "tests" / "topics").glob("*.py") if not p.stem.startswith("_")}
    return sorted(
        t
        for t in specs
        if (KIT_ROOT / "answers" / t).is_dir() and (KIT_ROOT / "questions" / f"{t}.md").is_file()
    )


def _imported(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def harness_files():
    """The files of ``tests/`` grading needs: the helpers (conftest, harness, ...), the topic specs
    and every module with checks of answers, plus the test modules those import. The kit's own
    tests stay out: they need the rest of the checkout (benchmarks, README, CI)."""
    tests = KIT_ROOT / "tests"
    local = {p.stem: p for p in tests.glob("*.py")}
    todo = [p for p in local.values() if not p.name.startswith("test_") or checks_answers(p)]
    chosen = set(todo)
    while todo:
        for name in _imported(todo.pop()):
            if name in local and local[name] not in chosen:
                chosen.add(local[name])
                todo.append(local[name])
    return sorted(chosen) + sorted((tests / "topics").glob("*.py"))


def kit_files(topics):
    """Every file of the checkout the autograder needs, as paths relative to the checkout."""
    files = [
        p
        for p in sorted((KIT_ROOT / "gendojo").rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]
    files += harness_files()
    for topic in topics:
        files += sorted((KIT_ROOT / "answers" / topic).glob(f"{topic}_*.py"))
        files.append(KIT_ROOT / "questions" / f"{topic}.md")
    files += [KIT_ROOT / name for name in ("pyproject.toml", "requirements.txt", "setup.sh", "README.md")]
    return [p.relative_to(KIT_ROOT) for p in files]


def _add(archive, name, text, executable=False):
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    archive.writestr(info, text)


def build(out, topics, frameworks=(), grading=None, time_limit=None, jobs=1):
    """Write the autograder zip to ``out``; returns the number of files in it."""
    known = known_topics()
    if not topics:
        raise GenDojoError(f"name the assignment's topics with --topic (one of: {', '.join(known)})")
    for topic in topics:
        if topic not in known:
            raise GenDojoError(f"--topic {topic}: not a GenDojo topic (one of: {', '.join(known)})")
    for framework in frameworks:
        if framework not in FRAMEWORKS:
            raise GenDojoError(f"--framework {framework}: not one of {', '.join(FRAMEWORKS)}")
    settings = {
        "topics": sorted(set(topics)),
        "frameworks": [f for f in FRAMEWORKS if f in frameworks] or list(FRAMEWORKS),
        "grading": None,
        "time_limit": time_limit,
        "jobs": jobs,
    }
    if grading:
        load_grading(grading)  # a broken file fails here, not on the first submission
    out = Path(out).expanduser().resolve()
    if not out.parent.is_dir():
        raise GenDojoError(f"--out {out}: the folder {out.parent} does not exist")
    files = kit_files(settings["topics"])
    with zipfile.ZipFile(out, "w") as archive:
        _add(archive, "setup.sh", SETUP, executable=True)
        _add(archive, "run_autograder", RUN, executable=True)
        for path in files:
            _add(archive, f"{KIT}/{path.as_posix()}", (KIT_ROOT / path).read_bytes(), path.suffix == ".sh")
        if grading:
            settings["grading"] = "course-grading.toml"
            _add(archive, f"{KIT}/course-grading.toml", Path(grading).expanduser().read_bytes())
        _add(archive, f"{KIT}/{SETTINGS}", json.dumps(settings, indent=1) + "\n")
    return len(files) + 3 + bool(grading)


def parser():
    p = argparse.ArgumentParser(prog="python -m gendojo gradescope", description=__doc__.split("\n\n")[0])
    p.add_argument("--topic", action="append", default=[], help="a topic of the assignment (repeatable)")
    p.add_argument(
        "--framework", action="append", default=[],
        help="a framework the students write in (repeatable; default: all four, each file expected)",
    )  # fmt: skip
    p.add_argument("--out", default="autograder.zip", help="the zip to write (default: autograder.zip)")
    p.add_argument("--grading", help="a grading file (TOML): points per check, limits, hidden checks")
    p.add_argument("--time-limit", type=float, help="seconds one training or command-line run may take")
    p.add_argument(
        "-j", "--jobs", type=int, default=1, help="answers graded at once on Gradescope (default 1)"
    )
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    if args.grading and not Path(args.grading).expanduser().is_file():
        raise GenDojoError(f"--grading {args.grading}: no such file")
    count = build(args.out, args.topic, args.framework, args.grading, args.time_limit, args.jobs)
    print(f"wrote {Path(args.out).resolve()} ({count} files): upload it as the assignment's autograder")


# --- grading a submission on Gradescope -----------------------------------------------------------


def gather(submission, topics, frameworks, tree):
    """Lay the submission out like ``answers/`` in ``tree``: a file ``<topic>_<framework>.py``
    anywhere in it (flat, as Gradescope usually stores uploads, or in a tree) goes to
    ``tree/<topic>/``. Every chosen topic gets its folder, so a missing file fails its checks.
    Returns notes for the student."""
    wanted = {f"{t}_{f}.py": t for t in topics for f in frameworks}
    found = {}
    notes = []
    if submission.is_dir():
        paths = sorted(submission.rglob("*"), key=lambda p: (len(p.parts), str(p)))
        for path in paths:
            relative = path.relative_to(submission)
            if path.name not in wanted or any(part.startswith((".", "__MACOSX")) for part in relative.parts):
                continue
            if path.is_symlink() or not path.is_file():
                notes.append(f"{relative}: not a plain file (a link?), left out")
                continue
            found.setdefault(path.name, []).append(relative)
    for topic in topics:
        (tree / topic).mkdir(parents=True, exist_ok=True)
    for name, places in found.items():
        shutil.copyfile(submission / places[0], tree / wanted[name] / name)
        if len(places) > 1:
            others = ", ".join(str(p) for p in places[1:])
            notes.append(f"{name} appears {len(places)} times; graded {places[0]}, not {others}")
    missing = sorted(set(wanted) - set(found))
    if missing:
        notes.append(f"not in your submission: {', '.join(missing)} (its checks fail)")
    return notes


def results_json(rows, notes):
    """Gradescope's results: one test per check that ran (skipped checks count for nothing and
    are listed in the output), hidden checks shown once grades are published."""
    tests, lines, skipped = [], [], []
    answers = {}
    for row in rows:
        answers.setdefault((row["topic"], row["framework"]), []).append(row)
    for number, ((topic, framework), checks) in enumerate(answers.items(), 1):
        ran = [c for c in checks if c["outcome"] != "skipped"]
        skipped += [
            f"{topic} · {framework} · {c['check']}" + ("" if c["hidden"] else f": {c['reason']}")
            for c in checks
            if c not in ran
        ]
        for index, check in enumerate(sorted(ran, key=lambda c: c["question"]), 1):
            title = CHECK_TITLES.get(check["check"], check["check"].replace("_", " "))
            tests.append({
                "name": f"{topic} · {framework} · {check['question']}: {title}",
                "number": f"{number}.{index}",
                "score": check["points"],
                "max_score": check["max_points"],
                "status": "passed" if check["outcome"] == "passed" else "failed",
                "output": check["reason"] or "passed",
                "output_format": "text",
                "visibility": "after_published" if check["hidden"] else "visible",
            })  # fmt: skip
        earned, possible = sum(c["points"] for c in ran), sum(c["max_points"] for c in ran)
        passed = sum(c["outcome"] == "passed" for c in ran)
        lines.append(
            f"{topic} · {framework}: {earned:g}/{possible:g} points, {passed}/{len(ran)} checks passed"
        )
    if any(t["visibility"] == "after_published" for t in tests):
        lines.append("Some checks are shown once grades are published.")
    lines += notes
    if skipped:
        lines += ["Not counted (skipped):"] + skipped
    return {
        "score": sum(t["score"] for t in tests),
        "output": "GenDojo grading\n" + "\n".join(lines),
        "output_format": "text",
        "tests": tests,
    }


def grade_submission(root):
    settings = json.loads((KIT_ROOT / SETTINGS).read_text())
    grading = KIT_ROOT / settings["grading"] if settings.get("grading") else None
    load_grading(grading)  # a broken grading file says what is wrong with it
    with tempfile.TemporaryDirectory(prefix="gendojo-") as work:
        tree, rows_file, log = Path(work) / "answers", Path(work) / "results.json", Path(work) / "grade.log"
        notes = gather(root / "submission", settings["topics"], settings["frameworks"], tree)
        command = pytest_command(
            tree, settings["topics"], settings["frameworks"], json_path=rows_file, grading=grading,
            time_limit=settings.get("time_limit"), jobs=settings.get("jobs") or 1,
        )  # fmt: skip
        with open(log, "w") as output:
            code = start(command, output).wait()
        print(log.read_text(errors="replace"), flush=True)  # for the instructor: Gradescope's stdout
        outcome(code, tree, log)
        return results_json(json.loads(rows_file.read_text()), notes)


def autograde(root):
    """Grade ``root/submission``; always write ``root/results/results.json``."""
    root = Path(root)
    (root / "results").mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    try:
        results = grade_submission(root)
    except Exception as error:  # anything at all: Gradescope must still get a result
        traceback.print_exc()  # for the instructor, in Gradescope's stdout
        why = str(error) if isinstance(error, GenDojoError) else f"{type(error).__name__}: {error}"
        results = {
            "score": 0,
            "output": f"GenDojo could not grade this submission: {why}. Please tell your instructor.",
            "output_format": "text",
            "tests": [],
        }
    results["execution_time"] = round(time.monotonic() - began)
    partial = root / "results" / "results.json.partial"
    partial.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    partial.replace(root / "results" / "results.json")
    return 0


if __name__ == "__main__":
    sys.exit(autograde(sys.argv[1]))
