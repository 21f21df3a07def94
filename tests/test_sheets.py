"""The question sheets and their index stay in step with the answers on disk."""

import re

import pytest
from harness import QUESTIONS, REFERENCE, ROOT, spec_topics

import gendojo

TOPICS = sorted(p.name for p in REFERENCE.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def test_every_topic_has_a_spec_a_sheet_and_an_index_row():
    index = (QUESTIONS / "README.md").read_text()
    for topic in TOPICS:
        assert topic in spec_topics(), f"answers/{topic}/ has no tests/topics/{topic}.py"
        assert (QUESTIONS / f"{topic}.md").is_file(), f"answers/{topic}/ has no questions/{topic}.md"
        assert f"]({topic}.md)" in index, f"questions/README.md does not list {topic}"


@pytest.mark.parametrize("topic", TOPICS)
def test_sheet_links_all_four_answers_and_its_pictures_exist(topic):
    sheet = (QUESTIONS / f"{topic}.md").read_text()
    for framework in gendojo.FRAMEWORKS:
        assert f"../answers/{topic}/{topic}_{framework}.py" in sheet, f"{topic}.md does not link {framework}"
    for target in re.findall(r"\]\((\.\./[^)#\s]+)\)", sheet):
        assert (QUESTIONS / target).resolve().exists(), f"{topic}.md links {target}, which does not exist"
    for section in (
        "## Parameter counts",
        "## Questions",
        "## Where the four frameworks differ",
        "## Results",
    ):
        assert section in sheet, f"{topic}.md has no '{section}' section"


def test_readme_commands_are_the_ones_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash setup.sh" in readme and "bash setup.sh" in ci
    assert "pytest -n 2 --dist loadgroup" in readme and "pytest -n 2 --dist loadgroup" in ci
