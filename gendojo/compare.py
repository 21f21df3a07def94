"""Compare the four answers of a topic: the same config, run one after another, side by side.

    python -m gendojo compare dcgan
    python -m gendojo compare ae --frameworks pytorch keras -- --steps 200 --dataset mnist

Each answer runs as its own process (one at a time, so that the timings are fair) with
``--out DIR/<framework> --quiet`` and every flag given after ``--``. From the four history files
it writes to ``DIR`` (default ``outputs/compare/<topic>``):

- ``comparison.md`` and ``comparison.csv``: parameters per network, median milliseconds per
  training step, seconds, the final value of each loss (the mean of the last 10% of the steps)
  and the quality scores when the answer records them;
- ``samples.png``: the final sample grids side by side, each captioned with its framework;
- ``losses.png``: one plot per loss, one line per framework.

An answer that fails (it crashes, its framework is not installed, it writes no history) gets a
row that says why, and the others still run.
"""

import argparse
import csv
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from gendojo.errors import GenDojoError
from gendojo.frameworks import FRAMEWORKS
from gendojo.outputs import NOT_PLOTTED, running_mean

ROOT = Path(__file__).resolve().parent.parent
COLOURS = dict(zip(FRAMEWORKS, ("tab:red", "tab:orange", "tab:blue", "tab:green"), strict=True))
# quality fields (gendojo.quality) shown in the Markdown table; the CSV has them all
SCORES = ("fd", "coverage", "label_accuracy", "skipped")
PARAMETER_NOTE = (
    "Parameter counts must be equal across the frameworks (the same architecture); "
    "a status of `parameters differ` marks a row whose counts differ from the others."
)


def topics(answers):
    answers = Path(answers)
    return sorted(p.name for p in answers.iterdir() if p.is_dir() and any(p.glob(f"{p.name}_*.py")))


def shown(path):
    """``path`` relative to the working folder when it is inside it: shorter to read."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def last_line(text):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def run_answer(path, out, flags):
    """Run one answer file; return ``(status, wall seconds)``. Its output goes to ``out/run.log``."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("history.json", "samples.png", "losses.png"):  # never read a previous run's files
        (out / name).unlink(missing_ok=True)
    command = [sys.executable, str(path), *flags, "--out", str(out), "--quiet"]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    wall = time.perf_counter() - started
    (out / "run.log").write_text(
        f"$ {' '.join(command)}\nexit {result.returncode}\n\n--- stdout\n{result.stdout}\n"
        f"--- stderr\n{result.stderr}"
    )
    if result.returncode != 0:
        return f"failed: {last_line(result.stderr) or f'exit code {result.returncode}'}", wall
    if not (out / "history.json").exists():
        return "failed: it wrote no history.json", wall
    return "ok", wall


def final_value(values):
    """The mean of the last 10% of the steps (at least the last one)."""
    values = [v for v in values if v is not None]
    return float(np.mean(values[-max(1, len(values) // 10) :])) if values else None


def summarise(framework, status, wall, record):
    """One row of the table: a dict with the history file's numbers (empty if the run failed)."""
    row = {"framework": framework, "status": status, "wall_seconds": wall, "parameters": {}}
    if record is None:
        return row
    step_ms = record.get("step_ms") or {}
    row["parameters"] = dict(record.get("parameters") or {})
    row["step_ms"], row["step_ms_steps"] = step_ms.get("median"), step_ms.get("steps")
    row["seconds"] = record.get("seconds")
    history = record.get("history") or {}
    row["final"] = {name: final_value(v) for name, v in history.items() if name not in NOT_PLOTTED}
    row["quality"] = {}
    for name, value in (record.get("quality") or {}).items():
        if isinstance(value, dict):
            row["quality"].update({f"{name}.{k}": v for k, v in value.items() if _scalar(v)})
        elif _scalar(value):
            row["quality"][name] = value
    return row


def _scalar(value):
    return isinstance(value, int | float | str | bool) or value is None


def flag_parameters(rows):
    """Mark the rows whose parameter counts differ from the most common counts."""
    counts = [tuple(sorted(r["parameters"].items())) for r in rows if r["status"] == "ok"]
    if len(set(counts)) <= 1:
        return
    tally = {c: counts.count(c) for c in set(counts)}
    best = max(tally.values())
    modes = [c for c, n in tally.items() if n == best]
    reference = modes[0] if len(modes) == 1 else None
    for row in rows:
        if row["status"] == "ok" and tuple(sorted(row["parameters"].items())) != reference:
            row["status"] = "ok, parameters differ"


def columns(rows):
    """``[(csv name, Markdown header or None, value of a row, Markdown text of a value)]``."""

    def union(key):
        names = []
        for row in rows:
            names += [n for n in row.get(key, {}) if n not in names]
        return names

    def number(digits):
        return lambda v: "" if v is None else f"{v:,.{digits}f}"

    def ms(v):
        return "" if v is None else f"{v:.1f}" if v >= 10 else f"{v:.2f}"

    def quality(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v)

    result = [
        ("framework", "framework", lambda r: r["framework"], str),
        ("status", "status", lambda r: r["status"], str),
    ]
    for name in union("parameters"):
        result.append(
            (f"params_{name}", f"{name} params", lambda r, n=name: r["parameters"].get(n), number(0))
        )
    result += [
        ("params_total", "total params", lambda r: sum(r["parameters"].values()) or None, number(0)),
        ("step_ms_median", "ms/step", lambda r: r.get("step_ms"), ms),
        ("step_ms_steps", None, lambda r: r.get("step_ms_steps"), number(0)),
        ("train_seconds", "train s", lambda r: r.get("seconds"), number(1)),
        ("wall_seconds", "wall s", lambda r: r.get("wall_seconds"), number(1)),
    ]
    for name in union("final"):
        result.append(
            (f"final_{name}", f"final {name}", lambda r, n=name: r.get("final", {}).get(n), number(4))
        )
    found = union("quality")
    for name in [n for n in SCORES if n in found] + [n for n in found if n not in SCORES]:
        shown_in_table = name in SCORES  # the rest (sample count, seconds, …) only in the CSV
        result.append(
            (
                name if shown_in_table else f"quality_{name}",
                name if shown_in_table else None,
                lambda r, n=name: r.get("quality", {}).get(n),
                quality,
            )
        )
    return result


def write_csv(rows, path):
    table = columns(rows)
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([name for name, *_ in table])
        for row in rows:
            writer.writerow([_csv(value(row)) for _, _, value, _ in table])
    return path


def _csv(value):
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else value


def markdown_table(rows):
    table = [column for column in columns(rows) if column[1] is not None]
    lines = [
        "| " + " | ".join(header for _, header, _, _ in table) + " |",
        "|" + "|".join("---" if name in ("framework", "status") else "---:" for name, *_ in table) + "|",
    ]
    for row in rows:
        cells = [text(value(row)).replace("|", "\\|") for _, _, value, text in table]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def settings(records, flags):
    """One line saying what was run: the flags and the main fields of the config."""
    config = next((r.get("config") or {} for r in records if r), {})
    keys = ("dataset", "image_size", "channels", "dataset_size", "steps", "batch_size", "device")
    shown = ", ".join(f"{k} {config[k]}" for k in keys if k in config)
    return f"flags: `{' '.join(flags) or '(defaults)'}`; config: {shown}" if shown else f"flags: {flags}"


def write_markdown(topic, rows, records, flags, path, pictures):
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}"
    text = [
        f"# {topic}: {', '.join(row['framework'] for row in rows)} side by side",
        "",
        f"`python -m gendojo compare {topic}` on {time.strftime('%Y-%m-%d %H:%M')} ({machine}); "
        + settings(records, flags)
        + ".",
        "",
        markdown_table(rows),
        "",
        "ms/step: median time of one training step after the warm-up (the first 10% of the steps, "
        "at least 5, which include tracing and compilation), without the time spent writing sample "
        "grids. train s: the whole training loop; wall s: the whole process, imports and data "
        "included. final: the mean of the last 10% of the steps. " + PARAMETER_NOTE,
        "",
    ]
    references = {r["quality"]["fd_real"] for r in rows if "fd_real" in r.get("quality", {})}
    if references:
        text += [
            "Quality (gendojo/quality.py): `fd`, lower is better, reads against the same distance "
            f"between two halves of the real images, {', '.join(f'{v:.4g}' for v in sorted(references))}; "
            "`coverage`: the share of the classes the samples reach. The CSV has every field.",
            "",
        ]
    text += [f"![{name}]({name})\n" for name in pictures]
    path.write_text("\n".join(text))
    return path


def side_by_side(images, captions, gap=8, caption_height=30):
    """BGR images next to each other on white, each with its caption above, padded to one height."""
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.7, 2
    height = max(image.shape[0] for image in images) + caption_height
    panels = []
    for image, caption in zip(images, captions, strict=True):
        (text_width, _), _ = cv2.getTextSize(caption, font, scale, thickness)
        width = max(image.shape[1], text_width + 8)
        panel = np.full((height, width, 3), 255, np.uint8)
        panel[caption_height : caption_height + image.shape[0], : image.shape[1]] = image
        cv2.putText(panel, caption, (4, caption_height - 9), font, scale, (0, 0, 0), thickness, cv2.LINE_AA)
        panels.append(panel)
        panels.append(np.full((height, gap, 3), 255, np.uint8))
    return np.concatenate(panels[:-1], axis=1)


def write_samples(out, frameworks, path):
    images, captions = [], []
    for framework in frameworks:
        image = cv2.imread(str(out / framework / "samples.png"), cv2.IMREAD_COLOR)
        if image is not None:
            images.append(image)
            captions.append(framework)
    if not images:
        return None
    if not cv2.imwrite(str(path), side_by_side(images, captions)):
        raise OSError(f"could not write {path}")
    return path


def write_loss_plot(topic, histories, path):
    """One subplot per history name, one smoothed line per framework (the raw values faint)."""
    from matplotlib.figure import Figure

    names = []
    for history in histories.values():
        names += [n for n in history if n not in NOT_PLOTTED and n not in names]
    if not names:
        return None
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    figure = Figure(figsize=(5 * ncols, 3.6 * nrows), dpi=100)
    for index, name in enumerate(names):
        axes = figure.add_subplot(nrows, ncols, index + 1)
        for framework, history in histories.items():
            values = np.asarray([np.nan if v is None else v for v in history.get(name, [])], np.float64)
            if not len(values):
                continue
            colour = COLOURS.get(framework)
            steps = np.arange(len(values))
            if len(values) >= 20:
                axes.plot(steps, values, color=colour, alpha=0.15, linewidth=0.6)
                axes.plot(*running_mean(values), color=colour, label=framework)
            else:
                axes.plot(steps, values, color=colour, label=framework, marker=".")
        axes.set_title(name)
        axes.set_xlabel("training step")
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    figure.suptitle(f"{topic}: the frameworks compared")
    figure.tight_layout()
    figure.savefig(path)
    return path


def compare(topic, frameworks=FRAMEWORKS, out=None, answers=None, flags=(), echo=print):
    """Run the answers of ``topic`` one after another and write the comparison; return the rows."""
    answers = Path(answers) if answers else ROOT / "answers"
    if not answers.is_dir():
        raise GenDojoError(f"no such folder: {answers}")
    available = topics(answers)
    if topic not in available:
        raise GenDojoError(
            f"no such topic: {topic} (topics in {shown(answers)}: {', '.join(available) or 'none'})"
        )
    for flag in ("--out", "--quiet"):
        if any(f == flag or f.startswith(flag + "=") for f in flags):
            raise GenDojoError(f"{flag} is set by compare for each answer: leave it out of the flags")
    out = Path(out) if out else Path("outputs") / "compare" / topic
    out.mkdir(parents=True, exist_ok=True)
    rows, records, histories = [], [], {}
    for number, framework in enumerate(frameworks, start=1):
        path = answers / topic / f"{topic}_{framework}.py"
        echo(f"[{number}/{len(frameworks)}] {framework}: {shown(path)} ...", end=" ", flush=True)
        if not path.exists():
            status, wall = f"failed: no file {shown(path)}", None
        else:
            status, wall = run_answer(path, out / framework, list(flags))
        record = None
        if status == "ok":
            try:
                record = json.loads((out / framework / "history.json").read_text())
            except (OSError, ValueError) as error:
                status = f"failed: unreadable history.json ({error})"
        echo(status if wall is None else f"{status} ({wall:.1f} s)", flush=True)
        rows.append(summarise(framework, status, wall, record))
        records.append(record)
        if record:
            histories[framework] = record.get("history") or {}
    flag_parameters(rows)
    pictures = []
    if write_samples(out, frameworks, out / "samples.png"):
        pictures.append("samples.png")
    if write_loss_plot(topic, histories, out / "losses.png"):
        pictures.append("losses.png")
    write_csv(rows, out / "comparison.csv")
    write_markdown(topic, rows, records, list(flags), out / "comparison.md", pictures)
    echo("")
    echo(markdown_table(rows))
    echo("")
    echo(PARAMETER_NOTE.replace("`", '"'))
    echo(f"wrote {shown(out)}/: comparison.md, comparison.csv, {', '.join(pictures) or 'no pictures'}")
    return rows


# the inference function whose outputs ``--weights`` shows, the first an answer has
SHOWN = ("generate", "translate", "reconstruct", "decode")


def from_weights(topic, path, frameworks=FRAMEWORKS, out=None, answers=None, flags=(), echo=print):
    """Load one canonical weights file (gendojo/weights.py) into each framework's answer of
    ``topic`` and write what each makes from the same inputs, side by side; return
    ``{framework: largest difference from the first framework's outputs}``."""
    import dataclasses
    import importlib.util

    from gendojo import weights
    from gendojo.cli import parse_args
    from gendojo.data import load_dataset
    from gendojo.outputs import save_grid

    arrays, meta = weights.read(path)
    if meta.get("topic") != topic:
        raise GenDojoError(f"{path} holds a {meta.get('topic')} model, not a {topic} one")
    answers = Path(answers) if answers else ROOT / "answers"
    out = Path(out) if out else Path("outputs") / "compare" / topic / "weights"
    first, differences = None, {}
    for framework in frameworks:
        spec = importlib.util.spec_from_file_location(
            f"gendojo_compare_{topic}_{framework}", answers / topic / f"{topic}_{framework}.py"
        )
        answer = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(answer)
        fields = {f.name for f in dataclasses.fields(answer.Config)}
        config = answer.Config(**{k: v for k, v in (meta.get("config") or {}).items() if k in fields})
        given, default = parse_args(answer.Config, list(flags)), answer.Config()
        changed = {f: getattr(given, f) for f in fields if getattr(given, f) != getattr(default, f)}
        config = dataclasses.replace(config, **changed)
        networks = weights.assign(answer, answer.build(config), config, arrays, meta, str(path))
        name = next(n for n in SHOWN if hasattr(answer, n))
        inputs = weights.example_arguments(getattr(answer, name), config, 16, seed=config.seed)
        if name in ("translate", "reconstruct"):
            data = load_dataset(config)
            inputs = [(data.sources if data.sources is not None else data.images)[:16]]
        outputs = getattr(answer, name)(networks, *inputs)
        rows = [inputs[0], outputs] if name in ("translate", "reconstruct") else [outputs]
        save_grid(rows, out / framework / "samples.png")
        first = outputs if first is None else first
        differences[framework] = float(np.abs(np.asarray(outputs) - first).max())
        echo(f"{framework}: {name}(), largest difference from {frameworks[0]}: {differences[framework]:.2g}")
    write_samples(out, frameworks, out / "samples.png")
    echo(f"wrote {shown(out)}/samples.png")
    return differences


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    own, flags = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(
        prog="python -m gendojo compare",
        usage="python -m gendojo compare TOPIC [--frameworks F ...] [--out DIR] [--answers DIR] "
        "[-- FLAGS for every answer]",
        description="Run the four answers of a topic with one config, one after another, and write "
        "a table (parameters, ms per step, final losses, quality), the sample grids side by side "
        "and the loss curves on one plot.",
        epilog="Flags after -- go to every answer, e.g.: "
        "python -m gendojo compare dcgan -- --steps 200 --dataset mnist",
    )
    parser.add_argument("topic", help="the topic, e.g. ae or dcgan")
    parser.add_argument(
        "--frameworks",
        nargs="+",
        choices=FRAMEWORKS,
        default=list(FRAMEWORKS),
        metavar="F",
        help=f"the answers to run, in this order (default: {' '.join(FRAMEWORKS)})",
    )
    parser.add_argument(
        "--out", default="", metavar="DIR", help="output folder (default: outputs/compare/TOPIC)"
    )
    parser.add_argument(
        "--answers", default="", metavar="DIR", help="the answers' folder (default: answers/)"
    )
    parser.add_argument(
        "--weights",
        default="",
        metavar="FILE.npz",
        help="no training: each framework makes its samples from these weights (python -m gendojo export)",
    )
    args = parser.parse_args(own)
    if args.weights:
        from_weights(args.topic, args.weights, args.frameworks, args.out or None, args.answers or None, flags)
        return
    rows = compare(args.topic, args.frameworks, args.out or None, args.answers or None, flags)
    if any(not row["status"].startswith("ok") for row in rows):
        raise SystemExit(1)
