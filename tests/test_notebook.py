"""Answers as notebooks (gendojo.notebook): ``python -m gendojo notebook`` writes one cell per
section and a last cell that trains; executed headless, the notebook shows a notebook progress
bar, each sample grid and the loss plot as images.

Executing one takes a kernel start and a framework import: Chainer runs by default (about 11 s on
the shared 2-core machine); PyTorch (19 s), Keras (22 s) and TensorFlow (31 s) with ``-m slow``.
"""

import json
import os
import re
import subprocess
import sys

import pytest
from harness import REFERENCE, ROOT

from gendojo import FRAMEWORKS, GenDojoError, notebook

TINY = ["--steps", "4", "--image-size", "16", "--dataset-size", "64", "--batch-size", "16"]
TINY += ["--sample-every", "2"]  # grids at steps 0 and 2, then the final grid and the loss plot


def environment():
    """This checkout's gendojo first, for the command and for the kernel it starts."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def gendojo_notebook(*args, cwd):
    command = [sys.executable, "-m", "gendojo", "notebook", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=environment(), timeout=300)


def section_titles(source):
    return [m.group(1).strip() for m in re.finditer(r"^# %% (?!\[markdown\])(.+)$", source, re.M)]


@pytest.mark.parametrize("topic", ["ae", "vae", "wgan"])
def test_cells_follow_the_answer_sections_and_end_with_main(topic):
    nbformat = pytest.importorskip("nbformat")
    source = (REFERENCE / topic / f"{topic}_keras.py").read_text()
    document = notebook.notebook(source, ["--steps", "7"])
    nbformat.validate(nbformat.from_dict(document))
    texts = ["".join(cell["source"]) for cell in document["cells"]]
    headings = [t[4:] for t, c in zip(texts, document["cells"], strict=True) if t.startswith("### ")]
    assert headings == [
        *section_titles(source),
        "Run\n\nThe flags are the command line's (`--help` lists them).",
    ]
    assert document["cells"][0]["cell_type"] == "markdown" and not texts[0].startswith("#  ")
    assert texts[-1] == "main(['--steps', '7'])"
    code = "\n".join(t for t, c in zip(texts, document["cells"], strict=True) if c["cell_type"] == "code")
    assert "__main__" not in code and "def train(" in code and "def main(" in code
    assert len({cell["id"] for cell in document["cells"]}) == len(document["cells"])


def test_flags_are_checked_against_the_answer(tmp_path):
    path = REFERENCE / "cgan" / "cgan_pytorch.py"
    notebook.check_flags(path, ["--steps", "3", "--class", "2", "--no-quiet"])  # a prefix, a negation
    with pytest.raises(GenDojoError, match="has no flag --stepz"):
        notebook.check_flags(path, ["--stepz", "3"])
    process = gendojo_notebook("ae", "pytorch", "--out", tmp_path / "x.ipynb", "--", "--nope", cwd=tmp_path)
    assert process.returncode == 2 and process.stderr.strip() == (
        "error: ae_pytorch.py has no flag --nope (its --help lists them)"
    )
    process = gendojo_notebook("ae", "jax", cwd=tmp_path)
    assert process.returncode == 2 and "no such framework: jax" in process.stderr
    assert not (tmp_path / "x.ipynb").exists()


def run_notebook(framework, tmp_path):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    path = tmp_path / f"ae_{framework}.ipynb"
    process = gendojo_notebook("ae", framework, "--out", path, "--execute", "--", *TINY, cwd=tmp_path)
    assert process.returncode == 0, process.stdout + process.stderr
    last = json.loads(path.read_text())["cells"][-1]
    return last["outputs"], tmp_path / "outputs" / "ae" / framework


def check_what_it_showed(outputs, out):
    kinds = [sorted(output.get("data", {})) for output in outputs if output["output_type"] == "display_data"]
    images = [kind for kind in kinds if "image/png" in kind]
    bars = [kind for kind in kinds if "application/vnd.jupyter.widget-view+json" in kind]
    assert len(images) == 4, f"expected grids at steps 0 and 2, the final grid and the loss plot: {kinds}"
    assert len(bars) == 1, f"expected one notebook progress bar (tqdm with ipywidgets): {kinds}"
    text = "".join("".join(output.get("text", "")) for output in outputs if output["output_type"] == "stream")
    assert "IProgress not found" not in text and "4 steps" in text
    assert (out / "samples.png").is_file() and (out / "samples" / "step000002.png").is_file()


# One framework in the default run, the cheapest to start (measured on the loaded 2-core machine:
# Chainer 11 s, PyTorch 19 s, Keras 22 s, TensorFlow 31 s); the other three with -m slow.
FAST = "chainer"


@pytest.mark.parametrize(
    "framework", [f if f == FAST else pytest.param(f, marks=pytest.mark.slow) for f in FRAMEWORKS]
)
def test_an_executed_notebook_shows_its_bar_grids_and_loss_plot(framework, tmp_path):
    check_what_it_showed(*run_notebook(framework, tmp_path))


def test_show_does_nothing_outside_a_notebook(tmp_path, capsys):
    assert not notebook.in_notebook()
    notebook.show(tmp_path / "missing.png", REFERENCE.parent / "assets" / "shapes.png")
    assert capsys.readouterr().out == ""
