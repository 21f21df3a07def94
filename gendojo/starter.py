"""Starter trees: a student's copy of ``answers/`` with every marked solution taken out.

Each answer marks what the learner writes with ``# BEGIN SOLUTION Qn`` / ``# END SOLUTION Qn``,
always inside a function body. A starter file keeps everything else (imports, the config, the
data, the training loop around the step, ``main``) and replaces each marked region by::

    raise NotImplementedError("Q3 of questions/dcgan.md is not implemented yet")

so the file still imports, and the harness reports "not implemented yet" for the checks that need
the missing code instead of crashing.

    python -m gendojo starter mywork               # every topic
    python -m gendojo starter mywork --topic vae   # one topic (repeatable)
"""

import re
from pathlib import Path

from gendojo.errors import GenDojoError
from gendojo.frameworks import FRAMEWORKS

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = ROOT / "answers"

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION (?P<question>Q\d+)\s*$")
END = re.compile(r"^[ \t]*# END SOLUTION (?P<question>Q\d+)\s*$")


def strip_solutions(source, topic, name="answer"):
    """The text of a starter file: each marked region becomes one ``raise NotImplementedError``.

    Raises ``GenDojoError`` for markers that do not pair up (nested, unclosed, mismatched).
    """
    lines = source.splitlines(keepends=True)
    out, open_marker = [], None
    for number, line in enumerate(lines, start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if open_marker:
                raise GenDojoError(
                    f"{name}:{number}: BEGIN SOLUTION inside the region opened at line {open_marker[1]}"
                )
            open_marker = (begin["question"], number)
            message = f"{begin['question']} of questions/{topic}.md is not implemented yet"
            out.append(f'{begin["indent"]}raise NotImplementedError("{message}")\n')
        elif end:
            if not open_marker or open_marker[0] != end["question"]:
                raise GenDojoError(f"{name}:{number}: END SOLUTION {end['question']} without its BEGIN")
            open_marker = None
        elif not open_marker:
            out.append(line)
    if open_marker:
        raise GenDojoError(f"{name}:{open_marker[1]}: BEGIN SOLUTION {open_marker[0]} is never closed")
    return "".join(out)


def count_regions(source):
    return sum(bool(BEGIN.match(line)) for line in source.splitlines())


def topics(answers=ANSWERS):
    return sorted(p.name for p in Path(answers).iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def make_starter(destination, chosen=(), answers=ANSWERS, force=False):
    """Write a starter tree to ``destination``; return ``{path: number of regions replaced}``."""
    destination, answers = Path(destination), Path(answers)
    available = topics(answers)
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        raise GenDojoError(f"no such topic: {', '.join(unknown)} (topics: {', '.join(available)})")
    if destination.exists() and any(destination.iterdir()) and not force:
        raise GenDojoError(f"{destination} is not empty: choose a new folder (or pass --force to overwrite)")
    written = {}
    for topic in chosen or available:
        for framework in FRAMEWORKS:
            path = answers / topic / f"{topic}_{framework}.py"
            if not path.exists():
                continue
            source = path.read_text()
            target = destination / topic / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(strip_solutions(source, topic, name=str(path)))
            written[target] = count_regions(source)
    readme = destination / "README.md"
    readme.write_text(
        "# Your answers\n\n"
        "Each file here is an answer with its solutions taken out: every `raise NotImplementedError`\n"
        "marks a question of the sheet in `questions/<topic>.md`. Replace it with your code, then\n"
        "check yourself (from any folder):\n\n"
        f"    python -m gendojo grade {destination.resolve()} --topic <topic>\n"
    )
    return written


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m gendojo starter",
        description="Write a student's copy of answers/ with every marked solution replaced by "
        "`raise NotImplementedError`.",
    )
    parser.add_argument("destination", help="the folder to write (new or empty)")
    parser.add_argument("--topic", action="append", default=[], help="only this topic (repeatable)")
    parser.add_argument("--force", action="store_true", help="write into a folder that is not empty")
    args = parser.parse_args(argv)
    written = make_starter(args.destination, args.topic, force=args.force)
    regions = sum(written.values())
    topics_written = sorted({path.parent.name for path in written})
    print(
        f"wrote {len(written)} starter files ({regions} solution regions to fill in) for "
        f"{', '.join(topics_written)} to {args.destination}/"
    )
    print(f"check them with: python -m gendojo grade {Path(args.destination).resolve()} --topic <topic>")
