"""The parts of the question sheets that are read off the answers, so they cannot drift.

Under each question Qn a sheet lists, per framework, the functions and classes a learner has to
write: those that hold a ``# BEGIN SOLUTION Qn`` marker in the answer, with their exact
signatures. This module computes those lists from the answers' source (``ast``, no framework is
imported) and rewrites the blocks in the sheets; tests/test_sheets.py checks that they agree.

    python -m gendojo.sheets              # rewrite every sheet's signature blocks
    python -m gendojo.sheets --check      # exit 1 and name the blocks that are out of date
"""

import ast
import re
import sys
from pathlib import Path

from gendojo.frameworks import FRAMEWORKS

ROOT = Path(__file__).resolve().parent.parent
NAMES = {"pytorch": "PyTorch", "tensorflow": "TensorFlow", "keras": "Keras 3", "chainer": "Chainer"}
MARKER = re.compile(r"# BEGIN SOLUTION Q(\d+)")
BLOCK = re.compile(r"<!-- signatures Q(?P<number>\d+) -->\n.*?<!-- end signatures -->", re.S)


def solution_signatures(path):
    """``{n: [(class or None, signature), …]}``: the functions (and methods, with their class)
    that contain a ``# BEGIN SOLUTION Qn`` marker, in the order of the file."""
    source = Path(path).read_text()
    marks = {}
    for number, line in enumerate(source.splitlines(), 1):
        match = MARKER.search(line)
        if match:
            marks.setdefault(int(match[1]), []).append(number)
    found = {}

    def visit(node, owner=None):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, child)
            elif isinstance(child, ast.FunctionDef):
                for question, lines in marks.items():
                    if any(child.lineno <= line <= child.end_lineno for line in lines):
                        signature = f"{child.name}({ast.unparse(child.args)})"
                        found.setdefault(question, []).append((owner, signature))

    visit(ast.parse(source))
    return found


def describe(entries):
    """One table cell: ``class A(base)``: `m(…)`, `n(…)` · `f(…)`."""
    parts, classes = [], {}
    for owner, signature in entries:
        if owner is None:
            parts.append(f"`{signature}`")
        else:
            if owner.name not in classes:
                bases = ", ".join(ast.unparse(base) for base in owner.bases)
                classes[owner.name] = [f"`class {owner.name}({bases})`:"]
                parts.append(classes[owner.name])
            classes[owner.name].append(f"`{signature}`")
    return " · ".join(p if isinstance(p, str) else p[0] + " " + ", ".join(p[1:]) for p in parts)


def block(topic, question, answers=None):
    """The Markdown block a sheet shows under question ``question`` of ``topic``."""
    answers = Path(answers) if answers else ROOT / "answers"
    rows = []
    for framework in FRAMEWORKS:
        entries = solution_signatures(answers / topic / f"{topic}_{framework}.py").get(question, [])
        rows.append(f"| {NAMES[framework]} | {describe(entries) or '(nothing)'} |")
    return "\n".join(
        [f"<!-- signatures Q{question} -->", "| framework | you write (exact signatures) |", "|---|---|"]
        + rows
        + ["<!-- end signatures -->"]
    )


def refresh(sheet_text, topic, answers=None):
    """``sheet_text`` with every signature block recomputed from the answers."""
    return BLOCK.sub(lambda match: block(topic, int(match["number"]), answers), sheet_text)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    stale = []
    for sheet in sorted((ROOT / "questions").glob("*.md")):
        topic = sheet.stem
        if not (ROOT / "answers" / topic).is_dir():
            continue
        text = sheet.read_text()
        new = refresh(text, topic)
        if new != text:
            stale.append(sheet.name)
            if "--check" not in argv:
                sheet.write_text(new)
    verb = "out of date" if "--check" in argv else "rewritten"
    print(f"signature blocks {verb}: {', '.join(stale) or 'none'}")
    if stale and "--check" in argv:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
