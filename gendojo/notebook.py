"""Answers as Jupyter notebooks: ``python -m gendojo notebook TOPIC FRAMEWORK`` writes one.

Every answer file is already a notebook in the ``# %%`` (percent) format: each ``# %% N. Title``
line starts a cell. This module turns one into an ``.ipynb`` (plain nbformat 4 JSON, no jupytext
needed): a heading and a code cell per section, the ``# %% [markdown]`` header as Markdown, and a
last cell that calls ``main`` with the flags you chose instead of the command line's
``if __name__ == "__main__"`` block.

Run in Jupyter, an answer shows what it makes as it trains: the progress bar is a notebook bar
(tqdm with ipywidgets), each sample grid appears under the cell when it is written, and the final
grid and the loss plot at the end (``show`` below, called by ``gendojo.outputs``). On the command
line nothing changes.
"""

import argparse
import ast
import json
import re
import shlex
import sys
from pathlib import Path

from gendojo.errors import GenDojoError
from gendojo.frameworks import FRAMEWORKS

ROOT = Path(__file__).resolve().parent.parent
CELL = re.compile(r"^# %%(?P<markdown> \[markdown\])?(?P<title>.*)$")
MAIN_GUARD = re.compile(r'^if __name__ == "__main__":\n(?:[ \t]+.*\n?)+', re.M)


def in_notebook():
    """True inside a running Jupyter (IPython) kernel, whatever the front end."""
    if "ipykernel" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def show(*paths):
    """Display the pictures at ``paths`` under the running cell, if this is a notebook."""
    if not in_notebook():
        return
    from IPython.display import Image, display

    for path in paths:
        if Path(path).is_file():
            display(Image(filename=str(path)))


def config_defaults(path, real_images=False):
    """``{field: default}`` of the ``Config`` dataclass in an answer file, read from its source
    without importing it (importing an answer imports its framework, seconds to a minute).
    With ``real_images``: the defaults of a run on real images (``metadata={"real_images": …}``,
    see gendojo/cli.py)."""
    try:
        tree = ast.parse(Path(path).read_text())
    except SyntaxError as error:
        raise GenDojoError(f"{path} does not parse (line {error.lineno}): {error.msg}") from None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Config":
            defaults = {}
            for statement in node.body:
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                    value = statement.value
                    if isinstance(value, ast.Call):  # field(default=..., metadata=...)
                        keywords = {k.arg: k.value for k in value.keywords}
                        value, metadata = keywords.get("default"), keywords.get("metadata")
                        if real_images and isinstance(metadata, ast.Dict):
                            for key, second in zip(metadata.keys, metadata.values, strict=True):
                                if isinstance(key, ast.Constant) and key.value == "real_images":
                                    value = second
                    try:
                        defaults[statement.target.id] = ast.literal_eval(value) if value else None
                    except ValueError:  # not a literal: the field is still a flag
                        defaults[statement.target.id] = None
            return defaults
    raise GenDojoError(f"{path} has no Config dataclass")


def field_of(flag, fields):
    """The Config field a command-line flag sets, as the answer's argparse would read it:
    ``--image-size`` → image_size, ``--no-latent-plots`` → latent_plots, and a unique prefix
    (``--class`` → class_id). ``None`` if there is no such field or more than one."""
    name = flag[2:].split("=")[0].replace("-", "_")
    if name.startswith("no_") and name[3:] in fields:
        return name[3:]
    if name in fields:
        return name
    matches = [field for field in fields if field.startswith(name)]
    return matches[0] if len(matches) == 1 else None


def _cell(kind, text):
    lines = text.strip("\n").splitlines(keepends=True)
    cell = {"cell_type": kind, "id": "", "metadata": {}, "source": lines}
    if kind == "code":
        cell |= {"execution_count": None, "outputs": []}
    return cell


def cells(source, flags=()):
    """The notebook cells of an answer's source, ending with ``main([...flags])``."""
    source = MAIN_GUARD.sub("", source)
    found, kind, title, lines = [], None, "", []

    def close():
        body = "".join(lines).strip("\n")
        if kind == "markdown":
            text = "\n".join(re.sub(r"^# ?", "", line) for line in body.splitlines())
            found.append(_cell("markdown", text))
        elif kind == "code":
            if title:
                found.append(_cell("markdown", f"### {title}"))
            if body:
                found.append(_cell("code", body))

    for line in source.splitlines(keepends=True):
        match = CELL.match(line.rstrip("\n"))
        if match:
            close()
            kind = "markdown" if match["markdown"] else "code"
            title, lines = match["title"].strip(), []
        else:
            lines.append(line)
    close()
    shown = ", ".join(repr(flag) for flag in flags)
    found.append(_cell("markdown", "### Run\n\nThe flags are the command line's (`--help` lists them)."))
    found.append(_cell("code", f"main([{shown}])"))
    for number, cell in enumerate(found):
        cell["id"] = f"cell-{number:02d}"
    return found


def notebook(source, flags=()):
    """An nbformat 4.5 notebook (a dict, ready for ``json.dump``) of an answer's source."""
    return {
        "cells": cells(source, flags),
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def answer_path(topic, framework, answers=None):
    answers = Path(answers) if answers else ROOT / "answers"
    if framework not in FRAMEWORKS:
        raise GenDojoError(f"no such framework: {framework} (choose one of {', '.join(FRAMEWORKS)})")
    path = answers / topic / f"{topic}_{framework}.py"
    if not path.is_file():
        raise GenDojoError(f"no answer file {path}")
    return path


def check_flags(path, flags):
    """Refuse flags the answer does not have, here rather than in the notebook's last cell."""
    fields = {**config_defaults(path), "init_from": ""}  # --init-from: the kit's (gendojo/cli.py)
    for flag in flags:
        if flag.startswith("--") and field_of(flag, fields) is None:
            raise GenDojoError(f"{path.name} has no flag {flag.split('=')[0]} (its --help lists them)")


def execute(path, timeout=600):
    """Run a notebook headless in a fresh kernel (its folder as the working directory) and save
    it with its outputs."""
    try:
        import nbclient
        import nbformat
    except ImportError:
        raise GenDojoError(
            "--execute needs nbclient and ipykernel: pip install -r requirements.txt"
        ) from None
    document = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        document,
        timeout=timeout,
        kernel_name="python3",
        extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no warnings about local TCP sockets
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        nbformat.write(document, path)  # with the outputs up to the error, to read in Jupyter
        last = re.sub(r"\x1b\[[0-9;]*m", "", str(error).strip().splitlines()[-1])  # no colour codes
        raise GenDojoError(
            f"{path} stopped with an error ({last}); its outputs so far are saved in it"
        ) from None
    except nbclient.exceptions.DeadKernelError:
        raise GenDojoError(f"the kernel running {path} died (out of memory?)") from None
    except Exception as error:  # jupyter_client.kernelspec.NoSuchKernel and friends
        if type(error).__name__ != "NoSuchKernel":
            raise
        raise GenDojoError("no python3 Jupyter kernel: pip install ipykernel") from None
    nbformat.write(document, path)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    own, flags = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(
        prog="python -m gendojo notebook",
        usage="python -m gendojo notebook TOPIC FRAMEWORK [--out FILE] [--answers DIR] [--execute] "
        "[-- FLAGS for the answer]",
        description="Write an answer as a Jupyter notebook: one cell per section, and a last cell "
        "that trains with the flags given after --. Run in Jupyter, it shows its progress bar, "
        "its sample grids and its loss plot under that cell.",
        epilog="Example: python -m gendojo notebook dcgan pytorch -- --steps 500",
    )
    parser.add_argument("topic", help="the topic, e.g. ae or dcgan")
    parser.add_argument("framework", help=f"one of {', '.join(FRAMEWORKS)}")
    parser.add_argument("--out", default="", metavar="FILE", help="default: TOPIC_FRAMEWORK.ipynb here")
    parser.add_argument(
        "--answers", default="", metavar="DIR", help="the answers' folder (default: answers/)"
    )
    parser.add_argument("--execute", action="store_true", help="also run it headless and save its outputs")
    args = parser.parse_args(own)
    path = answer_path(args.topic, args.framework, args.answers or None)
    check_flags(path, flags)
    out = Path(args.out or f"{args.topic}_{args.framework}.ipynb")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(notebook(path.read_text(), flags), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {out} ({' '.join(shlex.quote(f) for f in flags) or 'default flags'})")
    if args.execute:
        execute(out)
        print(f"ran it: {out} now holds its outputs")
