"""The pictures under assets/: draw the data pictures, and rerun every picture's command.

Every picture the sheets show is listed in ``assets/manifest.toml`` with the command that made it
and the file that command writes. Two uses, neither part of the test run:

    python benchmarks/assets.py draw shapes assets/shapes.png          # a data picture, exactly
    python benchmarks/assets.py rerun --steps 20                       # every command, 20 steps
    python benchmarks/assets.py rerun --steps 20 --only dcgan/         # the ones whose path matches

``rerun`` runs each command with ``--steps N`` (answers also get ``--out`` in a temporary folder
and ``--quiet``; paths under assets/ are redirected there too), so it proves that every command
still runs and writes its picture, in minutes rather than the hours of the real runs. The
pictures in assets/ come from the full runs, not from this.
"""

import argparse
import shlex
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "assets" / "manifest.toml"
COLUMNS = 12  # images per row of a data picture


def entries(manifest=MANIFEST):
    """The manifest's ``[[asset]]`` tables, in order."""
    return tomllib.loads(Path(manifest).read_text())["asset"]


def data_rows(name):
    """The rows of a data picture: NHWC arrays in [-1, 1], drawn at 32 × 32 with seed 0.

    ``shapes``: 36 images in three rows, then the paired view of the first twelve (sketch above
    picture). ``simple-shapes``: 24 images in two rows.
    """
    from gendojo.shapes import shapes

    def scale(images):
        return images.astype(np.float32) / 127.5 - 1

    if name == "shapes":
        images, _, sketches = shapes(3 * COLUMNS, 32, 3, seed=0)
        rows = [images[i : i + COLUMNS] for i in range(0, len(images), COLUMNS)]
        return [scale(row) for row in [*rows, sketches[:COLUMNS], images[:COLUMNS]]]
    if name == "simple-shapes":
        images, _, _ = shapes(2 * COLUMNS, 32, 3, seed=0, simple=True)
        return [scale(images[i : i + COLUMNS]) for i in range(0, len(images), COLUMNS)]
    raise SystemExit(f"error: no data picture called {name!r}; choose shapes or simple-shapes")


def draw(name, path):
    from gendojo.outputs import save_grid

    # The full style's picture is scaled up three times so its detail shows on a sheet.
    save_grid(data_rows(name), path, **({"scale": 3} if name == "shapes" else {}))
    print(f"wrote {path}")


def rerun_command(entry, steps, folder):
    """(argument list, file it must write) for a short rerun of ``entry`` inside ``folder``."""
    words = shlex.split(entry["command"])
    if words[:1] != ["python"]:
        raise ValueError(f"{entry['path']}: a command must start with 'python', not {words[:1]}")
    words[0] = sys.executable
    if len(words) > 1 and words[1].startswith("answers/"):
        out = folder / entry["path"].replace("/", "_")
        return [*words, "--steps", str(steps), "--out", str(out), "--quiet"], out / entry["output"]
    target = folder / Path(entry["output"]).name
    words = [str(target) if word == entry["output"] else word for word in words]
    if entry.get("steps", True):
        words += ["--steps", str(steps)]
    return words, target


def rerun(steps, only="", keep=None):
    """Rerun every matching command with ``steps`` steps; return the number that failed."""
    chosen = [entry for entry in entries() if only in entry["path"]]
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="gendojo-assets-"))
    failed = 0
    for number, entry in enumerate(chosen, 1):
        command, target = rerun_command(entry, steps, folder)
        started = time.perf_counter()
        process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        ok = process.returncode == 0 and target.is_file()
        failed += not ok
        print(f"[{number}/{len(chosen)}] {'ok' if ok else 'FAILED'} {entry['path']} ({seconds:.0f} s)")
        if not ok:
            print((process.stdout + process.stderr)[-2000:])
    print(f"{len(chosen) - failed} of {len(chosen)} commands wrote their picture; files in {folder}")
    return failed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    drawing = commands.add_parser("draw", help="draw a data picture exactly as assets/ has it")
    drawing.add_argument("name", choices=("shapes", "simple-shapes"))
    drawing.add_argument("path")
    again = commands.add_parser("rerun", help="run every picture's command with few steps")
    again.add_argument("--steps", type=int, default=20)
    again.add_argument("--only", default="", help="only the pictures whose path contains this")
    again.add_argument("--keep", default="", help="write into this folder instead of a temporary one")
    args = parser.parse_args(argv)
    if args.command == "draw":
        draw(args.name, args.path)
    else:
        raise SystemExit(1 if rerun(args.steps, args.only, args.keep or None) else 0)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
