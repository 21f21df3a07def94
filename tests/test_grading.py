"""The harness grades a student's tree: a deliberately broken Auto Encoder in each framework fails
exactly the checks it should, a fresh starter tree of the Convolutional AE fails with "not
implemented yet", each with a readable reason, and the harness itself never crashes.
"""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from harness import REFERENCE, ROOT

from gendojo.grading import CheckResult, render_markdown
from gendojo.starter import make_starter

ALL_CHECKS = {
    "imports", "config", "layout", "parameter_counts", "inference",
    "loss_falls", "same_seed_same_history", "command_line", "clear_errors", "learns_on_unseen_images",
    "one_image_alone_as_in_a_batch",
}  # fmt: skip
# A starter file imports, and its config, layout and size check are not solutions; the rest waits for Q1.
STARTER_FAILS = {
    "parameter_counts", "inference", "loss_falls", "same_seed_same_history", "command_line",
    "learns_on_unseen_images", "one_image_alone_as_in_a_batch",
}  # fmt: skip

# framework → (what the student got wrong, the edit that breaks the reference, checks that must fail)
BROKEN = {
    "pytorch": (
        "wrong output size",
        ("return y.permute(0, 2, 3, 1).cpu().numpy()", "return y.permute(0, 2, 3, 1).cpu().numpy()[:, ::2, ::2]"),
        {"inference", "command_line", "learns_on_unseen_images"},
    ),
    "tensorflow": (
        "a loss that does not fall (the update is never applied)",
        ("    optimizer.apply_gradients(zip(gradients, variables, strict=True))\n", ""),
        {"loss_falls", "learns_on_unseen_images"},
    ),
    "keras": ("a syntax error", ("def build(config):", "def build(config:"), ALL_CHECKS),
    "chainer": (
        "an infinite loop in the training step",
        ("    encoder, decoder = networks[\"encoder\"], networks[\"decoder\"]\n    loss =",
         "    while True:\n        pass\n    encoder, decoder = networks[\"encoder\"], networks[\"decoder\"]\n    loss ="),
        {"inference", "loss_falls", "same_seed_same_history", "command_line", "learns_on_unseen_images",
         "one_image_alone_as_in_a_batch"},
    ),
}  # fmt: skip


def write_broken_tree(root):
    for framework, (_, (old, new), _) in BROKEN.items():
        source = (REFERENCE / "ae" / f"ae_{framework}.py").read_text()
        assert source.count(old) == 1, f"the reference ae_{framework}.py changed; update BROKEN"
        path = root / "ae" / f"ae_{framework}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source.replace(old, new))


@pytest.mark.e2e
def test_broken_student_tree_fails_exactly_the_right_checks(tmp_path):
    answers = tmp_path / "answers"
    write_broken_tree(answers)
    make_starter(answers, ["convae"], force=True)  # a student who has not started the ConvAE yet
    report, results, junit = tmp_path / "report.md", tmp_path / "results.json", tmp_path / "junit.xml"
    command = [
        sys.executable, "-m", "pytest", str(ROOT / "tests" / "test_answers.py"),
        str(ROOT / "tests" / "test_learning.py"), "-p", "no:cacheprovider",
        "-p", "no:xdist", "-q", "--answers", str(answers), "--time-limit", "15",
        "--grade-report", str(report), "--grade-json", str(results), "--grade-junit", str(junit),
    ]  # fmt: skip
    # one thread, as an xdist worker has: the 15-s limit must hold while the other worker runs
    threads = {v: "1" for v in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")}
    run = subprocess.run(command, capture_output=True, text=True, timeout=400, cwd=ROOT,
                         env={**os.environ, **threads, "TF_CPP_MIN_LOG_LEVEL": "3"})  # fmt: skip
    assert run.returncode == 1, (
        f"pytest should report failures, exit code {run.returncode}:\n{run.stdout[-3000:]}"
    )
    assert "INTERNALERROR" not in run.stdout + run.stderr
    rows = json.loads(results.read_text())
    outcomes = {}
    for row in rows:
        outcomes.setdefault((row["topic"], row["framework"]), {})[row["check"]] = row
    expected = {("ae", f): (what, fails) for f, (what, _, fails) in BROKEN.items()}
    expected |= {("convae", f): ("a fresh starter file", STARTER_FAILS) for f in BROKEN}
    assert set(outcomes) == set(expected), sorted(outcomes)
    for answer, (what, should_fail) in expected.items():
        checks = outcomes[answer]
        assert set(checks) == ALL_CHECKS, f"{answer}: ran {sorted(checks)}"
        failed = {name for name, row in checks.items() if row["outcome"] == "failed"}
        assert failed == should_fail, (
            f"{what} {answer}: failed {sorted(failed)}, expected {sorted(should_fail)}: "
            + "; ".join(checks[n]["reason"] for n in sorted(failed - should_fail))
        )
        for name in failed:
            reason = checks[name]["reason"]
            assert reason and "Traceback" not in reason and len(reason) < 400, f"{answer}/{name}: {reason!r}"
            if answer[0] == "convae":
                assert "Q1 of questions/convae.md is not implemented yet" in reason, (
                    f"{answer}/{name}: {reason!r}"
                )
    reasons = {f: {n: r["reason"] for n, r in c.items()} for (t, f), c in outcomes.items() if t == "ae"}
    assert "syntax error on line" in reasons["keras"]["imports"]
    assert "did not finish within 15 s" in reasons["chainer"]["inference"]
    assert reasons["chainer"]["loss_falls"].startswith("not run: ")
    assert "shape (5, 8, 8, 3)" in reasons["pytorch"]["inference"]
    assert "did not fall" in reasons["tensorflow"]["loss_falls"]
    assert "did not improve" in reasons["tensorflow"]["learns_on_unseen_images"]
    assert "returned shape (64, 8, 8, 3)" in reasons["pytorch"]["learns_on_unseen_images"]
    text = report.read_text()
    # points (gendojo/grading.toml): 14 per answer; the history check is worth 0
    assert "| ae | ❌ 8/14 | ❌ 11/14 | ❌ 0/14 | ❌ 6/14 |" in text, text[:800]
    assert "| convae | ❌ 4/14 | ❌ 4/14 | ❌ 4/14 | ❌ 4/14 |" in text, text[:800]
    assert "Per question: Q0 4/5, Q1 2/2, Q3 1/4, Q4 1/3" in text, text  # ae · pytorch
    assert "How it was graded: one pytest process; each answer in its own process" in text
    # JUnit: one suite per answer, the same failures and reasons as the JSON
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert len(suites) == len(expected)
    failures = {
        (s.get("name"), c.get("name")): c.find("failure") for s in suites for c in s.findall("testcase")
    }
    assert sum(f is not None for f in failures.values()) == sum(r["outcome"] == "failed" for r in rows)
    assert "is not implemented yet" in failures[("convae.keras", "inference")].get("message")


def test_missing_answer_is_a_failed_check_not_a_crash(tmp_path):
    (tmp_path / "ae").mkdir()
    (tmp_path / "ae" / "ae_pytorch.py").write_text((REFERENCE / "ae" / "ae_pytorch.py").read_text())
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "tests" / "test_answers.py"), "-p", "no:xdist", "-q",
         "-p", "no:cacheprovider", "--answers", str(tmp_path), "--framework", "chainer", "-k", "imports or config"],
        capture_output=True, text=True, timeout=200, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 1
    assert "ae_chainer.py is missing" in run.stdout


def test_report_renders_failures_with_reasons():
    results = [
        CheckResult("ae", "pytorch", "imports", "passed", "", 0.1),
        CheckResult("ae", "pytorch", "loss_falls", "failed", "loss did not fall | much", 1.0),
        CheckResult("ae", "keras", "imports", "failed", "syntax error", 0.1),
    ]
    text = render_markdown(results, answers="student/")
    assert "**Score: 1 / 3 points; 1 / 3 checks passed.**" in text
    assert "| ae | ❌ 1/2 | not checked | ❌ 0/1 | not checked |" in text
    assert "loss did not fall \\| much" in text
