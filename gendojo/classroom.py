"""Grade a whole class: ``python -m gendojo grade CLASS_DIR --class [--out REPORTS] [-j N]``.

Each subfolder of CLASS_DIR is one student's tree, laid out like ``answers/``. N students are
graded at a time (default: one per core), each by one grader process that takes their answers one
after another, each in its own sealed process. Per student, ``REPORTS/<student>/`` gets
``report.md``, ``results.json`` (the rows of ``grade --json``) and ``grade.log``; then
``REPORTS/roster.csv`` gets one row per student and answer: points per question, total, maximum.

It can be stopped and started again: a student whose ``results.json`` is newer than all of their
files and folders, graded with the same options, is not graded again.
"""

import csv
import hashlib
import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import NamedTuple

from gendojo.errors import GenDojoError
from gendojo.grade import TESTS, NoAnswers, outcome, pytest_command, start
from gendojo.grading import CheckResult, load_grading, per_question, points

ROSTER = "roster.csv"
RESULTS = "results.json"
OPTIONS = "options.json"  # what a student's results were graded with


class Graded(NamedTuple):
    student: str
    status: str  # "graded", "up to date", "no answers" or "failed"
    note: str = ""
    seconds: float = 0.0


def students(class_dir, out):
    """{name: folder} of every student folder in ``class_dir`` (not hidden, not the reports)."""
    topics = {p.stem for p in (TESTS / "topics").glob("*.py")}
    found = {}
    for folder in sorted(class_dir.iterdir()):
        if not folder.is_dir() or folder.name.startswith(".") or folder.resolve() == out:
            continue
        if folder.name in topics:
            raise GenDojoError(
                f"{folder} is a topic folder, so {class_dir} looks like one student's tree: "
                "grade it without --class (with --class, each subfolder is one student's tree)"
            )
        found[folder.name] = folder
    if not found:
        raise GenDojoError(
            f"{class_dir} has no student folders (one subfolder per student, each like answers/)"
        )
    return found


def newest_change(folder):
    """The latest modification time (ns) of ``folder``, its files and its subfolders: a folder's
    own time changes when a file in it is added, renamed or deleted."""
    newest = folder.lstat().st_mtime_ns
    for parent, folders, files in os.walk(folder):
        for name in folders + files:
            newest = max(newest, Path(parent, name).lstat().st_mtime_ns)
    return newest


def options_key(args):
    """What a grading depends on besides the student's files, so a changed option regrades."""
    grading = Path(args.grading).expanduser().resolve() if args.grading else None
    digest = hashlib.sha256(grading.read_bytes()).hexdigest() if grading and grading.is_file() else None
    return {
        "topics": sorted(args.topic),
        "frameworks": sorted(args.framework),
        "grading": digest,
        "time_limit": args.time_limit,
    }


def up_to_date(folder, target, options):
    results, saved = target / RESULTS, target / OPTIONS
    if not (results.is_file() and saved.is_file()):
        return False
    try:
        same = json.loads(saved.read_text()) == options
    except ValueError:
        return False
    return same and results.stat().st_mtime_ns > newest_change(folder)


class Running:
    """The grader processes alive now, so an interruption can stop them cleanly."""

    def __init__(self):
        self.processes, self.stopping = set(), False

    def run(self, command, log):
        process = start(command, log)
        self.processes.add(process)
        if self.stopping:  # started while stop() was running
            process.send_signal(signal.SIGINT)
        try:
            return process.wait()
        finally:
            self.processes.discard(process)

    def stop(self):
        """SIGINT first (pytest then closes the answers' processes), then SIGKILL."""
        self.stopping = True
        for process in list(self.processes):
            process.send_signal(signal.SIGINT)
        for process in list(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def grade_student(name, folder, target, args, options, running):
    """Grade one student's tree into ``target``; results.json appears only once grading finished,
    with the time grading started as its modification time (a file saved during grading is then
    newer, and the next run grades it again)."""
    target.mkdir(parents=True, exist_ok=True)
    results, partial = target / RESULTS, target / (RESULTS + ".partial")
    results.unlink(missing_ok=True)
    started, began = time.time_ns(), time.monotonic()
    command = pytest_command(
        folder, args.topic, args.framework, report=target / "report.md", json_path=partial,
        grading=args.grading, time_limit=args.time_limit, jobs=1,
    )  # fmt: skip
    with open(target / "grade.log", "w") as log:
        code = running.run(command, log)
    status, note = "graded", ""
    try:
        outcome(code, folder, target / "grade.log")
    except NoAnswers:
        status, note = "no answers", "no topic folders such as ae/"
        partial.write_text("[]")
    (target / OPTIONS).write_text(json.dumps(options))
    partial.replace(results)
    os.utime(results, ns=(started, started))
    return Graded(name, status, note, time.monotonic() - began)


def load_results(path):
    return [CheckResult(**{k: row[k] for k in CheckResult._fields}) for row in json.loads(path.read_text())]


def _number(value):
    return f"{value:g}"


def write_roster(path, graded, out, questions):
    """One row per student and answer: points per question, total and maximum (skipped checks
    count in neither); a student without results gets one row saying why."""
    rows = []
    for student in sorted(graded):
        results_file = out / student / RESULTS
        if graded[student].status == "failed" or not results_file.is_file():
            rows.append({"student": student, "note": f"not graded: {graded[student].note}"})
            continue
        answers = {}
        for result in load_results(results_file):
            answers.setdefault((result.topic, result.framework), []).append(result)
        if not answers:
            rows.append(
                {"student": student, "total": 0, "max": 0, "note": graded[student].note or "no answers"}
            )
        for (topic, framework), checks in sorted(answers.items()):
            earned, possible = points(checks)
            row = {"student": student, "topic": topic, "framework": framework}
            row.update({q: _number(a) for q, (a, _) in per_question(checks).items()})
            rows.append({**row, "total": _number(earned), "max": _number(possible)})
    seen = {key for row in rows for key in row if key.startswith("Q")}
    columns = sorted(set(questions) | seen)
    fields = ["student", "topic", "framework", *columns, "total", "max", "note"]
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fields)
        writer.writeheader()
        for row in rows:
            if "topic" in row:
                row = {q: 0 for q in columns} | row
            writer.writerow(row)
    return len(rows)


def main(args):
    """Grade every student folder of ``args.answers``; returns the exit status."""
    for flag in ("report", "json", "junit"):
        if getattr(args, flag):
            raise GenDojoError(f"--{flag} is for one tree; with --class every student's files go to --out")
    class_dir = Path(args.answers).expanduser().resolve()
    if not class_dir.is_dir():
        raise GenDojoError(f"{class_dir}: no such folder (it should hold one folder per student)")
    out = Path(args.out or "reports").expanduser().resolve()
    questions = load_grading(args.grading).questions  # a broken grading file stops here, once
    pytest_command(class_dir, grading=args.grading)  # the grader is installed, the grading file exists
    found = students(class_dir, out)
    out.mkdir(parents=True, exist_ok=True)
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    jobs = args.jobs or len(cores)
    options = options_key(args)
    graded, todo = {}, []
    for name, folder in found.items():
        if up_to_date(folder, out / name, options):
            graded[name] = Graded(name, "up to date")
            print(
                f"{name}: up to date ({out / name / RESULTS} is newer than all of its files), not graded again"
            )
        else:
            todo.append(name)
    if todo:
        print(f"grading {len(todo)} of {len(found)} students, {min(jobs, len(todo))} at a time, into {out}")
    running = Running()
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {
            pool.submit(grade_student, name, found[name], out / name, args, options, running): name
            for name in todo
        }
        try:
            for future in as_completed(futures):
                name = futures[future]
                try:
                    graded[name] = result = future.result()
                except Exception as error:  # one student's trouble must not stop the class
                    why = (
                        str(error) if isinstance(error, GenDojoError) else f"{type(error).__name__}: {error}"
                    )
                    graded[name] = result = Graded(name, "failed", why)
                print(f"{name}: {describe(result, out / name)}", flush=True)
        except KeyboardInterrupt:
            running.stop()
            pool.shutdown(wait=True, cancel_futures=True)
            done = sum(up_to_date(found[name], out / name, options) for name in found)
            print(f"stopped: {done} of {len(found)} students have results; the same command resumes")
            raise
    rows = write_roster(out / ROSTER, graded, out, questions)
    counts = {s: sum(g.status == s for g in graded.values()) for s in ("graded", "up to date", "failed")}
    print(
        f"roster: {out / ROSTER} ({len(found)} students, {rows} rows; graded now {counts['graded']}, "
        f"up to date {counts['up to date']}, failed {counts['failed']})"
    )
    if counts["failed"]:
        return 2
    return 0 if all(full_marks(out / name) for name in found) else 1


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def full_marks(target):
    results = load_results(target / RESULTS)
    return bool(results) and all(r.outcome != "failed" for r in results)


def describe(result, target):
    if result.status == "failed":
        return f"not graded: {result.note}"
    if result.status == "no answers":
        return f"no answers ({result.note}), {result.seconds:.0f} s"
    checks = [r for r in load_results(target / RESULTS) if r.outcome != "skipped"]
    earned, possible = points(checks)
    passed = sum(r.outcome == "passed" for r in checks)
    return (
        f"graded, {_number(earned)}/{_number(possible)} points, {passed}/{len(checks)} checks passed, "
        f"{result.seconds:.0f} s (report: {target / 'report.md'})"
    )
