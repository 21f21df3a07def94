"""Starter trees (gendojo.starter): every reference answer carries well-formed solution markers
inside function bodies, so its starter copy parses and keeps everything that is not a solution.
The grading of a real starter tree is in test_grading.py."""

import ast

import pytest
from harness import QUESTIONS, REFERENCE

from gendojo import FRAMEWORKS, GenDojoError
from gendojo.starter import BEGIN, make_starter, strip_solutions

ANSWER_FILES = sorted(p for p in REFERENCE.glob("*/*_*.py") if p.stem.split("_")[-1] in FRAMEWORKS)


def _functions_around(tree):
    """(line after the def, last line) of every function in a module."""
    return [
        (node.lineno + 1, node.end_lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


@pytest.mark.parametrize("path", ANSWER_FILES, ids=[p.stem for p in ANSWER_FILES])
def test_answer_markers_make_a_valid_starter(path):
    source = path.read_text()
    topic = path.parent.name
    lines = source.splitlines()
    begins = [(i + 1, BEGIN.match(line)["question"]) for i, line in enumerate(lines) if BEGIN.match(line)]
    assert begins, f"{path.name} marks no solution"
    bodies = _functions_around(ast.parse(source))
    for number, question in begins:
        assert any(first <= number <= last for first, last in bodies), (
            f"{path.name}:{number}: {question}'s marker is not inside a function body"
        )
    sheet = (QUESTIONS / f"{topic}.md").read_text()
    for question in {q for _, q in begins}:
        assert f"**{question} " in sheet or f"### {question}" in sheet, (
            f"{path.name} marks {question}, which questions/{topic}.md does not ask"
        )
    starter = strip_solutions(source, topic)
    tree = ast.parse(starter)  # still a valid module
    kept = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    original = {n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    assert kept == original
    assert starter.count("raise NotImplementedError(") == len(begins) + source.count(
        "raise NotImplementedError("
    )
    assert "SOLUTION" not in starter


def test_unbalanced_markers_are_a_clear_error():
    body = "def f():\n    # BEGIN SOLUTION Q1\n    return 1\n"
    with pytest.raises(GenDojoError, match="never closed"):
        strip_solutions(body, "ae")
    with pytest.raises(GenDojoError, match="without its BEGIN"):
        strip_solutions(body.replace("BEGIN", "END"), "ae")


def test_make_starter_writes_the_tree_and_refuses_to_overwrite(tmp_path):
    written = make_starter(tmp_path / "student", ["ae"])
    assert sorted(p.name for p in written) == sorted(p.name for p in (REFERENCE / "ae").glob("ae_*.py"))
    assert all(count > 0 for count in written.values())
    assert (tmp_path / "student" / "README.md").exists()
    with pytest.raises(GenDojoError, match="not empty"):
        make_starter(tmp_path / "student", ["ae"])
    with pytest.raises(GenDojoError, match="no such topic: nope"):
        make_starter(tmp_path / "other", ["nope"])
