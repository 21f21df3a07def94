"""Turn the harness's check outcomes into reports: a terminal table, Markdown a teacher can hand
back, and JUnit XML for CI systems and learning platforms (the JSON is the results themselves).

Every check belongs to a question of its sheet and carries points, as the grading file says
(``gendojo/grading.toml``, or an instructor's own laid over it with ``--grading FILE``).
"""

import tomllib
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

from gendojo.errors import GenDojoError
from gendojo.frameworks import FRAMEWORKS

DEFAULT_GRADING = Path(__file__).with_name("grading.toml")


class Grading(NamedTuple):
    questions: dict  # "Q1" → what it asks
    checks: dict  # "check" or "topic.check" → {"question": "Q1", "points": 2}
    hidden: frozenset  # check names (or "topic.check") hidden from students
    limits: dict

    def rule(self, topic, check):
        """(question, points) of one check of one topic."""
        rule = self.checks.get(f"{topic}.{check}") or self.checks.get(check) or {}
        return str(rule.get("question", "Q0")), float(rule.get("points", 1))

    def is_hidden(self, topic, check):
        return check in self.hidden or f"{topic}.{check}" in self.hidden


def load_grading(path=None):
    """The default grading file, with ``path``'s entries laid over it."""
    data = tomllib.loads(DEFAULT_GRADING.read_text())
    if path:
        try:
            extra = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise GenDojoError(f"--grading {path}: {error}") from None
        for key in ("questions", "limits", "checks"):
            data[key] = {**data.get(key, {}), **extra.get(key, {})}
        if "hidden" in extra:
            data["hidden"] = extra["hidden"]
    for name, rule in data["checks"].items():
        if not isinstance(rule, dict) or not isinstance(rule.get("points", 1), int | float):
            raise GenDojoError(f'grading file: checks.{name} must be {{question = "Qn", points = N}}')
    return Grading(data["questions"], data["checks"], frozenset(data.get("hidden", [])), data["limits"])


# What each check of tests/test_answers.py proves, in the words a report uses.
CHECK_TITLES = {
    "imports": "the file imports and defines Config, build, train, main",
    "config": "Config has the sheet's fields and defaults",
    "layout": "same sections and top-level names as the reference",
    "parameter_counts": "trainable parameters per network match the sheet",
    "inference": "inference functions return the stated shape, dtype and range",
    "loss_falls": "the loss history train() reports falls (information: the answer's own claim)",
    "learns_on_unseen_images": "outputs for images it never saw improve with training (measured by the grader)",
    "samples_in_range_and_driven_by_noise": "500 samples lie in [-1, 1] and depend on the noise",
    "samples_are_not_copies": "samples are not copies of training images",
    "vae_decoder_sees_samples": "training decodes samples z = mean + σ·ε, not the mean",
    "vae_kl_is_optimised": "the KL term is optimised (beta changes the codes)",
    "same_seed_same_history": "the same seed gives the same history",
    "command_line": "runs from the command line and writes its outputs",
    "clear_errors": "bad input gives a clear error",
}
SYMBOL = {"passed": "✅", "failed": "❌", "skipped": "➖"}


class CheckResult(NamedTuple):
    topic: str
    framework: str
    check: str
    outcome: str  # passed, failed or skipped
    reason: str
    seconds: float
    question: str = "Q0"
    max_points: float = 1.0
    hidden: bool = False

    @property
    def points(self):
        return self.max_points if self.outcome == "passed" else 0.0

    def as_dict(self):
        return {**self._asdict(), "points": self.points}


def _by_answer(results):
    table = defaultdict(dict)
    for result in results:
        table[(result.topic, result.framework)][result.check] = result
    order = {f: i for i, f in enumerate(FRAMEWORKS)}
    return dict(sorted(table.items(), key=lambda item: (item[0][0], order.get(item[0][1], 99))))


def score(checks):
    counted = [c for c in checks.values() if c.outcome != "skipped"]
    return sum(c.outcome == "passed" for c in counted), len(counted)


def points(checks):
    """(points earned, points possible) over checks that ran."""
    counted = [c for c in checks if c.outcome != "skipped"]
    return sum(c.points for c in counted), sum(c.max_points for c in counted)


def per_question(checks):
    """{question: (earned, possible)}, in question order."""
    table = defaultdict(list)
    for check in checks:
        table[check.question].append(check)
    return {q: points(table[q]) for q in sorted(table)}


def _number(value):
    return f"{value:g}"


def render_terminal(results):
    """One line per answer: passed/total, then the first failures with their reasons."""
    lines = []
    for (topic, framework), checks in _by_answer(results).items():
        passed, total = score(checks)
        earned, possible = points(checks.values())
        mark = "ok  " if passed == total else "FAIL"
        lines.append(
            f"{mark} {topic:<10} {framework:<11} {passed:>2}/{total:<2} checks passed, "
            f"{_number(earned)}/{_number(possible)} points"
        )
        for check in checks.values():
            if check.outcome == "failed":
                lines.append(f"       ✗ {check.check}: {check.reason}")
    return "\n".join(lines)


def render_markdown(results, answers="", when="", layout="", questions=None):
    """A grade report: the score, how the grader ran, a summary table (topic × framework), then
    per answer the points per question and every check with its result and reason."""
    table = _by_answer(results)
    total_passed = sum(score(c)[0] for c in table.values())
    total = sum(score(c)[1] for c in table.values())
    earned, possible = points(results)
    out = ["# GenDojo grade report", ""]
    if answers:
        out.append(f"Answers checked: `{answers}`" + (f" · {when}" if when else ""))
        out.append("")
    out.append(
        f"**Score: {_number(earned)} / {_number(possible)} points; {total_passed} / {total} checks passed.**"
    )
    out.append("")
    if layout:
        out += [f"How it was graded: {layout}", ""]
    topics = sorted({topic for topic, _ in table})
    out += [
        "## Summary",
        "",
        "| topic | " + " | ".join(FRAMEWORKS) + " |",
        "|---|" + "---|" * len(FRAMEWORKS),
    ]
    for topic in topics:
        cells = []
        for framework in FRAMEWORKS:
            checks = table.get((topic, framework))
            if checks is None:
                cells.append("not checked")
                continue
            passed, count = score(checks)
            got, could = points(checks.values())
            cells.append(f"{'✅' if passed == count else '❌'} {_number(got)}/{_number(could)}")
        out.append(f"| {topic} | " + " | ".join(cells) + " |")
    out.append("")
    for (topic, framework), checks in table.items():
        got, could = points(checks.values())
        scores = ", ".join(
            f"{q} {_number(a)}/{_number(b)}" for q, (a, b) in per_question(checks.values()).items()
        )
        out += [
            f"## {topic} · {framework}: {_number(got)}/{_number(could)} points",
            "",
            f"Per question: {scores}",
            "",
        ]
        out += ["| question | check | points | result | why |", "|---|---|---:|---|---|"]
        for check in sorted(checks.values(), key=lambda c: c.question):
            title = CHECK_TITLES.get(check.check, check.check.replace("_", " "))
            reason = check.reason.replace("|", "\\|").replace("\n", " ")
            if check.hidden:
                title, reason = "(hidden check)", ""
            mark = SYMBOL.get(check.outcome, check.outcome)
            out.append(
                f"| {check.question} | {title} | {_number(check.points)}/{_number(check.max_points)} | {mark} | {reason} |"
            )
        out.append("")
    if questions:
        out += ["## Questions", ""] + [f"- **{q}**: {text}" for q, text in questions.items()] + [""]
    return "\n".join(out)


def render_junit(results, answers=""):
    """JUnit XML: one <testsuite> per answer (topic · framework), one <testcase> per check."""
    import xml.etree.ElementTree as ET

    table = _by_answer(results)
    root = ET.Element("testsuites", name=f"GenDojo {answers}".strip())
    for (topic, framework), checks in table.items():
        failures = sum(c.outcome == "failed" for c in checks.values())
        skipped = sum(c.outcome == "skipped" for c in checks.values())
        suite = ET.SubElement(
            root, "testsuite", name=f"{topic}.{framework}", tests=str(len(checks)),
            failures=str(failures), skipped=str(skipped),
            time=f"{sum(c.seconds for c in checks.values()):.2f}",
        )  # fmt: skip
        for check in checks.values():
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{topic}.{framework}.{check.question}",
                name=check.check,
                time=f"{check.seconds:.2f}",
            )
            ET.SubElement(ET.SubElement(case, "properties"), "property", name="points",
                          value=f"{_number(check.points)}/{_number(check.max_points)}")  # fmt: skip
            if check.outcome == "failed":
                ET.SubElement(case, "failure", message=check.reason).text = check.reason
            elif check.outcome == "skipped":
                ET.SubElement(case, "skipped", message=check.reason)
    root.set("tests", str(len(results)))
    root.set("failures", str(sum(r.outcome == "failed" for r in results)))
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
