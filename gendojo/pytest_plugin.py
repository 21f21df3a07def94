"""GenDojo's grading options for pytest, registered as a plugin by the package (``pytest11``).

pytest must know ``--answers DIR`` takes a value before it reads the command line's paths;
otherwise ``pytest --answers /abs/mywork`` takes ``/abs/mywork`` for a test path, puts its rootdir
there and never loads ``tests/conftest.py``. The checks themselves are in the checkout's
``tests/`` (``python -m gendojo grade`` runs them from anywhere).
"""


def add_options(parser):
    group = parser.getgroup("gendojo", "GenDojo grading")
    group.addoption(
        "--answers",
        default=None,
        help="a tree laid out like answers/ to grade (default: the reference answers)",
    )
    group.addoption("--topic", action="append", default=[], help="check only this topic (repeatable)")
    group.addoption("--framework", action="append", default=[], help="check only this framework (repeatable)")
    group.addoption(
        "--time-limit", type=float, default=None,
        help="seconds one training run or command-line run of an answer may take (default 180)",
    )  # fmt: skip
    group.addoption(
        "--grade-only", action="store_true",
        help="run only the checks of answers, not the kit's own tests (implied for a tree other than answers/)",
    )  # fmt: skip
    group.addoption("--grading", default=None, help="a grading file (TOML): points, limits, hidden checks")
    group.addoption("--grade-report", default=None, help="write a Markdown grade report to this file")
    group.addoption("--grade-json", default=None, help="write every check's outcome and reason as JSON")
    group.addoption(
        "--grade-junit", default=None, help="write the checks as JUnit XML (one suite per answer)"
    )


def pytest_addoption(parser):
    add_options(parser)
