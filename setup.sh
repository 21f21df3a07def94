#!/usr/bin/env bash
# One-command setup: a virtual environment in .venv with the four frameworks, the tools and
# GenDojo itself (editable). Usage: bash setup.sh [PYTHON]   (default: python3.11, else python3)
set -euo pipefail
cd "$(dirname "$0")"

python=${1:-$(command -v python3.11 || command -v python3)}
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "error: GenDojo needs Python 3.11 (the version TensorFlow 2.21, torch 2.13 and Chainer 7.8.1" >&2
    echo "are pinned for); $python is $("$python" --version 2>&1). Pass another: bash setup.sh /path/to/python3.11" >&2
    exit 2
fi

"$python" -m venv .venv
pip=(.venv/bin/python -m pip install --disable-pip-version-check)

# Chainer 7.8.1 ships only as source, and its build imports pkg_resources, which setuptools 81
# removed. Install an older setuptools first and build without isolation, so the build uses it:
# this works the same with every pip version (pip 25.3+ ignores PIP_CONSTRAINT in build envs).
"${pip[@]}" "setuptools>=70,<81" wheel
"${pip[@]}" --no-build-isolation -r requirements.txt -e .

.venv/bin/python -c "import gendojo.chainer_compat as c; c.import_chainer(); import torch, tensorflow, keras" 2>/dev/null \
    || { echo "error: the environment was installed but the frameworks do not import" >&2; exit 1; }
echo "GenDojo is ready. Activate it with: source .venv/bin/activate"
