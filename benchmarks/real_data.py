"""Do the GAN-family answers learn real data at their default config? The quality score, per run.

Every answer of the GAN family (``gan``, ``dcgan``, ``cgan``, ``wgan``) × framework × seed × data
set runs at its default config (only ``--seed``, ``--dataset`` and what the data set needs change:
``digits`` is grey, ``--channels 1``, and has ten classes, ``--num-classes 10`` for the cGAN), each
in a fresh process through its own command line, with the thread pools set to ``--threads``. Then
a second fresh process of this script loads the generator the run saved in its checkpoint and
scores it here, on 5000 samples of this script's own noise (``gendojo/quality.py``: FD beside real
vs real, class coverage, label accuracy for the cGAN): the number the answer printed about itself
(1000 samples) is kept beside it as ``reported``, not used. The training seconds come from the
run's ``history.json``. The bar of issue 17: class coverage at least 0.9 in every row.

    python benchmarks/real_data.py                                   # the whole grid: hours on 2 cores
    python benchmarks/real_data.py --topics dcgan --seeds 0 --datasets digits
    python benchmarks/real_data.py --topics dcgan --frameworks pytorch --steps 200 --out /tmp/rd
    python benchmarks/real_data.py --topics --pix2pix --seeds 0           # pix2pix on photos alone

``--pix2pix`` adds pix2pix on a paired set made from real photographs: the two photos scikit-learn
ships (``china.jpg``, ``flower.jpg``), cut into 64-pixel crops shrunk to 32 × 32, grey → colour.
The lower right of each photo gives the held-out pairs, the rest the training pairs; the row
gives the L1 distance between G's colourings and the true colours on the held-out pairs, beside
the L1 of handing back the grey input unchanged (what a G that learned nothing about colour
scores).

Results go to ``--out`` (default ``benchmarks/results/``): ``real_data.json`` (every row, and the
machine) and ``real_data.md`` (the table). A later run replaces only the rows it measured again,
keyed by topic, framework, data set, seed and steps, so a grid can be filled in over several runs.
Not part of the test run.
"""

import argparse
import datetime
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.measure import thread_environment
from benchmarks.throughput import machine
from gendojo.data import DRAWN
from gendojo.notebook import config_defaults  # the grader's reader of a Config, from the source

ROOT = Path(__file__).resolve().parents[1]
TOPICS = ("gan", "dcgan", "cgan", "wgan")
FRAMEWORKS = ("pytorch", "tensorflow", "keras", "chainer")
DATASETS = ("simple-shapes", "digits")
# what each data set needs beyond --dataset; the cGAN must be told how many classes there are
DATASET_FLAGS = {"simple-shapes": (), "digits": ("--channels", "1")}
NUM_CLASSES = {"simple-shapes": 6, "digits": 10}
BAR = 0.9  # class coverage every row must reach
KEY = ("topic", "framework", "dataset", "seed", "steps")
NOTES = "## Findings"  # real_data.md from this heading on is written by hand; the script keeps it


@functools.cache
def defaults(topic, dataset):
    """The topic's Config defaults on ``dataset`` (a run on real images can have other defaults:
    gendojo/cli.py), read from the PyTorch answer's source (the four answers' configs are equal:
    tests/test_answers.py::test_config)."""
    path = ROOT / "answers" / topic / f"{topic}_pytorch.py"
    return config_defaults(path, real_images=dataset not in DRAWN)


def default_steps(topic, dataset):
    """The default ``steps`` on ``dataset``. A row with other steps was made at another default,
    or with ``--steps``: the table shows it but does not count it."""
    return defaults(topic, dataset)["steps"]


# Config fields that say where and how a run ran, not what it trained: a row's other settings
# must equal the current defaults for the row to count (steps are checked on their own above)
RUN_SETTINGS = {
    "dataset", "data_dir", "channels", "num_classes", "seed", "out", "device", "resume",
    "sample_every", "diversity_every", "quiet", "steps",
}  # fmt: skip


def departures(row):
    """How the settings a row ran with (its ``config``, kept since 2026-12-01) differ from its
    topic's current defaults: ``["--lr-decay 0.0 (the default is 0.4)"]``. A default that changes
    without changing the steps retires the rows made before it. Older rows kept no config: only
    their steps are checked."""
    ran = row.get("config")
    if not ran:
        return []
    found = []
    for name, default in defaults(row["topic"], row["dataset"]).items():
        if name in RUN_SETTINGS:
            continue
        flag = "--" + name.replace("_", "-")
        if name not in ran:
            found.append(f"{flag} did not exist yet (the default is {default!r})")
        elif ran[name] != default:
            found.append(f"{flag} {ran[name]!r} (the default is {default!r})")
    return found


def at_default(row):
    """Whether ``row`` was measured at its topic's current defaults (steps and, where the row kept
    its config, every other setting)."""
    return row["steps"] == default_steps(row["topic"], row["dataset"]) and not departures(row)


def steps_text(topic):
    """``wgan 3000 on simple-shapes, 2250 on digits``, or ``gan 4000`` where they are equal."""
    steps = {dataset: default_steps(topic, dataset) for dataset in DATASETS}
    if len(set(steps.values())) == 1:
        return f"{topic} {steps[DATASETS[0]]}"
    return f"{topic} " + ", ".join(f"{n} on {dataset}" for dataset, n in steps.items())


def command_for(topic, framework, dataset, seed, steps, out):
    """The answer's own command line for one run of the grid."""
    command = [sys.executable, str(ROOT / "answers" / topic / f"{topic}_{framework}.py")]
    command += ["--dataset", dataset, *DATASET_FLAGS[dataset], "--seed", str(seed)]
    command += ["--out", str(out), "--quiet", "--sample-every", "0"]
    if topic == "cgan":
        command += ["--num-classes", str(NUM_CLASSES[dataset])]
    if steps:
        command += ["--steps", str(steps)]
    return command


def run_process(command, output, row, args):
    """Run ``command`` in a fresh process with ``--threads`` threads per pool. Returns ``row`` with
    the wall time, or with ``error`` when it failed, ran out of time or did not write ``output``."""
    env = {**os.environ, **thread_environment(args.threads), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
    started = time.perf_counter()
    try:
        process = subprocess.run(
            command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=args.timeout
        )
    except subprocess.TimeoutExpired:
        return {**row, "error": f"no result within {args.timeout} s"}
    row = {**row, "wall_s": round(time.perf_counter() - started, 1)}
    if process.returncode != 0 or not Path(output).exists():
        tail = (process.stderr or process.stdout).strip().splitlines()[-1:] or ["no output"]
        return {**row, "error": f"exit {process.returncode}: {tail[0][:300]}"}
    return row


def scarcest(row):
    """The class with the smallest ratio of sample share to real share, with it: "ring 0.49"."""
    ratios = row.get("class_ratios") or {}
    return "" if not ratios else "{} {:.2f}".format(*min(ratios.items(), key=lambda item: item[1]))


def scored(row):
    """Who scored the row, on how many samples: this script (5000) or the run itself (1000)."""
    return str(row["samples"]) if row.get("samples") else "1000, run"


def short_classes(row):
    """The classes a row's samples drew under half their real share, with that ratio: "ring at 0.49"."""
    from gendojo.quality import missed_classes

    return ", ".join(missed_classes(row.get("class_ratios") or {}))


def run_one(topic, framework, dataset, seed, args):
    """Train one answer in a fresh process, score its saved generator in another; return its row
    (with ``error`` when either failed)."""
    row = dict(topic=topic, framework=framework, dataset=dataset, seed=seed, steps=args.steps or None)
    with tempfile.TemporaryDirectory() as folder:
        command = command_for(topic, framework, dataset, seed, args.steps, folder)
        history_file = Path(folder) / "history.json"
        row = run_process(command, history_file, row, args)
        if "error" in row:
            return row
        record = json.loads(history_file.read_text())
        load = round(os.getloadavg()[0], 2)  # of the training, not of the scoring below
        scored = Path(folder) / "scored.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--score-child", topic, framework]
        command += [folder, str(SCORE_SAMPLES), str(scored)]
        wall_s = row["wall_s"]
        row = run_process(command, scored, row, args)
        if "error" in row:
            return {**row, "error": "scoring the saved generator: " + row["error"]}
        quality = json.loads(scored.read_text())
    reported = record.get("quality", {})
    row.update(
        wall_s=wall_s,
        steps=record["config"]["steps"],
        config={k: v for k, v in record["config"].items() if k not in ("out", "data_dir")},
        train_s=round(record["seconds"], 1) if record.get("seconds") is not None else None,
        load_1min=load,
        **{k: quality.get(k) for k in ("fd", "fd_real", "coverage", "label_accuracy", "skipped")},
        class_ratios=quality.get("class_ratios"),
        samples=quality.get("samples"),
        reported={k: reported.get(k) for k in ("fd", "coverage", "samples") if k in reported},
    )
    return row


# --- the benchmark's own score of a run's saved generator -------------------------------------------

SCORE_SAMPLES = 5000  # a class of a tenth of the data: its share ratio to about ±0.03 (1000: ±0.07)
SCORE_SEED = 770_000  # this script's noise, apart from the run's (seed + 1) and its grids' (seed)


def score_child(topic, framework, folder, count, result, noise_seed=None):
    """In a fresh process: build the answer's networks from the config its checkpoint in ``folder``
    keeps, load the trained weights and score ``count`` samples of this script's own noise
    (``noise_seed``: another, e.g. the run's own ``seed + 1``, which must give the run's score)."""
    import dataclasses
    import importlib.util

    import gendojo
    from gendojo import checkpoints, quality

    path = ROOT / "answers" / topic / f"{topic}_{framework}.py"
    spec = importlib.util.spec_from_file_location(f"scored_{topic}_{framework}", path)
    answer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(answer)
    checkpoint = checkpoints.read(folder)
    fields = {f.name for f in dataclasses.fields(answer.Config)}
    saved = {k: tuple(v) if isinstance(v, list) else v for k, v in checkpoint["state"]["config"].items()}
    config = answer.Config(**{k: v for k, v in saved.items() if k in fields})
    networks = answer.build(config)
    checkpoints.load_networks(networks, checkpoint)
    data = gendojo.load_dataset(config)
    rng = np.random.default_rng(SCORE_SEED + config.seed if noise_seed is None else noise_seed)
    if topic == "cgan":  # the classes are asked for in turn; label acc. counts the ones hit
        score = quality.score_generator(
            data, config, lambda z, y: answer.generate(networks, z, y), config.num_classes, count, rng=rng
        )
    else:
        score = quality.score_generator(
            data, config, lambda z: answer.generate(networks, z), None, count, rng=rng
        )
    Path(result).write_text(json.dumps(score))


# --- pix2pix on real photographs -------------------------------------------------------------------

PHOTOS = ("china.jpg", "flower.jpg")
CROP = 64  # each crop is this many photo pixels, shrunk to the answer's 32 x 32


def photo_pairs(folder, count=2048, held_out=256, size=32, seed=0):
    """Write grey → colour pairs cut from scikit-learn's photos: ``folder/train/{A,B}`` and
    ``folder/held/{A,B}``. Held-out crops lie in the lower right of each photo (trees and water,
    the second flower), which no training crop overlaps."""
    import cv2
    from sklearn.datasets import load_sample_image

    rng = np.random.default_rng(seed)
    photos = [load_sample_image(name) for name in PHOTOS]
    for part, number in (("train", count), ("held", held_out)):
        for side in "AB":
            (Path(folder) / part / side).mkdir(parents=True, exist_ok=True)
        index = 0
        while index < number:
            photo = photos[index % len(photos)]
            height, width = photo.shape[:2]
            top, left = int(height * 0.45), int(width * 0.6)  # the held-out box: below and right
            y, x = rng.integers(0, height - CROP), rng.integers(0, width - CROP)
            inside = y >= top and x >= left
            overlaps = y + CROP > top and x + CROP > left
            if (part == "held" and not inside) or (part == "train" and overlaps):
                continue
            crop = cv2.resize(photo[y : y + CROP, x : x + CROP], (size, size), interpolation=cv2.INTER_AREA)
            grey = cv2.cvtColor(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
            for side, image in (("A", grey), ("B", crop)):
                cv2.imwrite(str(Path(folder) / part / side / f"{index:05d}.png"), image[..., ::-1])
            index += 1


def pix2pix_child(framework, folder, seed, steps, result):
    """In a fresh process: train pix2pix on ``folder/train``, score it on ``folder/held``."""
    import importlib.util

    import gendojo

    path = ROOT / "answers" / "pix2pix" / f"pix2pix_{framework}.py"
    spec = importlib.util.spec_from_file_location(f"pix2pix_{framework}", path)
    answer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(answer)
    config = answer.Config(dataset="paired", data_dir=str(Path(folder) / "train"), seed=seed, quiet=True)
    config.sample_every, config.dataset_size = 0, 0
    if steps:
        config.steps = steps
    data = gendojo.load_dataset(config)
    started = time.perf_counter()
    networks, _ = answer.train(config, data)
    seconds = time.perf_counter() - started
    held = gendojo.load_dataset(dataclass_replace(config, data_dir=str(Path(folder) / "held")))
    translated = np.concatenate([answer.translate(networks, chunk) for chunk in np.split(held.sources, 4)])
    row = {
        "steps": config.steps,
        "train_s": round(seconds, 1),
        "l1_held": float(np.abs(translated - held.images).mean()),
        "l1_copy": float(np.abs(held.sources - held.images).mean()),
        "l1_train_size": len(data.images),
    }
    Path(result).write_text(json.dumps(row))


def dataclass_replace(config, **changes):
    import dataclasses

    return dataclasses.replace(config, **changes)


def run_pix2pix(framework, seed, args):
    row = dict(topic="pix2pix", framework=framework, dataset="photos", seed=seed, steps=args.steps or None)
    with tempfile.TemporaryDirectory() as folder:
        photo_pairs(folder)
        result = Path(folder) / "result.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--pix2pix-child", framework, folder]
        command += [str(seed), str(args.steps), str(result)]
        row = run_process(command, result, row, args)
        if "error" not in row:
            row.update(json.loads(result.read_text()), load_1min=round(os.getloadavg()[0], 2))
    return row


# --- the table -----------------------------------------------------------------------------------


def merge(old_rows, new_rows):
    """Old rows, with those measured again replaced, in the grid's order."""
    rows = {tuple(r[k] for k in KEY): r for r in old_rows}
    rows.update({tuple(r[k] for k in KEY): r for r in new_rows})

    def order(row):
        return (
            (*TOPICS, "pix2pix").index(row["topic"]),
            DATASETS.index(row["dataset"]) if row["dataset"] in DATASETS else 99,
            FRAMEWORKS.index(row["framework"]) if row["framework"] in FRAMEWORKS else 99,
            row["seed"],
            row["steps"] or 0,
        )

    return sorted(rows.values(), key=order)


def number(value, digits=2):
    return "" if value is None else f"{value:.{digits}f}"


def markdown(results, notes=""):
    rows, runs = results["rows"], results["runs"]
    lines = [
        "# Real data: the GAN family's quality score at default config",
        "",
        "Written by `benchmarks/real_data.py`; each row is one answer run through its own command",
        "line at its default config (`--steps` only where the row says so), in a fresh process.",
        "`fd` reads against `fd_real` (two halves of the real images), `coverage` is the share of",
        f"classes the samples reach (bar: {BAR}), `scarcest` the class with the smallest share of the",
        "samples over its share of the real images (a class counts as reached from 0.5), `label",
        "acc.` the cGAN's share of samples recognised as the class asked for. `scored`: `5000` where",
        f"this script loaded the run's saved generator and scored {SCORE_SAMPLES} samples of its own",
        "noise; `1000, run` where the row holds the score the run printed about itself (rows made",
        "before this script scored them). From the draw of the samples alone a class of a tenth of",
        "the data reads to about ±0.07 of its ratio at 1000 samples, ±0.03 at 5000. `train s` is the",
        "training time on a machine shared with other jobs (see the load): a rough guide, not a",
        "throughput measurement.",
        "",
        "## Runs",
        "",
    ]
    batches = {}  # the lanes of one day on one machine make one line
    for run in runs:
        info = run["machine"]
        where = (
            f"{run['threads']} thread(s) per run, on {info['cpu']} ({info['usable_cpus']} usable CPUs, "
            f"{info['memory']}), {info['os']}, Python {info['python']}, "
            + ", ".join(f"{k} {v}" for k, v in info["packages"].items())
        )
        rows_and_batches = batches.setdefault((run["date"], where), [0, 0])
        rows_and_batches[0] += run["rows"]
        rows_and_batches[1] += 1
    for (date, where), (count, batch_count) in sorted(batches.items()):
        in_batches = f" in {batch_count} batches" if batch_count > 1 else ""
        lines.append(f"- {date}: {count} rows measured{in_batches}, {where}")
    lines += [
        "",
        "## Results",
        "",
        "| topic | framework | data | seed | steps | fd | fd_real | coverage | scarcest | label acc. | scored "
        "| train s | load | bar |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if r["topic"] == "pix2pix":
            continue
        if "error" in r:
            cells = ["failed: " + r["error"], "", "", "", "", "", "", "", "no"]
        elif r.get("skipped"):
            cells = ["skipped: " + r["skipped"], "", "", "", "", "", "", "", "no"]
        elif not at_default(r):
            if r["steps"] != default_steps(r["topic"], r["dataset"]):
                counted = f"not counted: the default is {default_steps(r['topic'], r['dataset'])} steps"
            else:
                counted = "not counted: ran with " + ", ".join(departures(r))
            cells = [number(r["fd"], 1), number(r["fd_real"]), number(r["coverage"]), scarcest(r), "",
                     scored(r), "", "", counted]  # fmt: skip
        else:
            met = r["coverage"] is not None and r["coverage"] >= BAR
            short = short_classes(r)
            cells = [
                number(r["fd"], 1), number(r["fd_real"]), number(r["coverage"]), scarcest(r),
                number(r.get("label_accuracy")), scored(r), number(r.get("train_s"), 0),
                number(r.get("load_1min")), "yes" if met else "**no**" + (f": {short}" if short else ""),
            ]  # fmt: skip
        lines.append(
            f"| {r['topic']} | {r['framework']} | {r['dataset']} | {r['seed']} | {r['steps'] or ''} | "
            + " | ".join(cells)
            + " |"
        )
    photo_rows = [r for r in rows if r["topic"] == "pix2pix"]
    if photo_rows:
        lines += [
            "",
            "### pix2pix on real photographs (grey → colour, held-out pairs)",
            "",
            "`l1 held` is the mean absolute difference, in [-1, 1] units, between G's colourings of",
            "held-out grey crops and their true colours; `l1 copy` the same for the grey input",
            "itself. Lower than `l1 copy` means G learned colour from the photos.",
            "",
            "| framework | seed | steps | l1 held | l1 copy | train s | load |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in photo_rows:
            if "error" in r:
                lines.append(
                    f"| {r['framework']} | {r['seed']} | {r['steps'] or ''} | failed: {r['error']} | | | |"
                )
                continue
            lines.append(
                f"| {r['framework']} | {r['seed']} | {r['steps']} | {number(r['l1_held'], 3)} | "
                f"{number(r['l1_copy'], 3)} | {number(r['train_s'], 0)} | {number(r['load_1min'])} |"
            )
    rows = [r for r in rows if r["topic"] != "pix2pix"]
    measured = {
        (r["topic"], r["framework"], r["dataset"], r["seed"])
        for r in rows
        if "error" not in r and at_default(r)
    }
    missing = [
        f"{t} {f} {d} seed {s}"
        for t in TOPICS
        for d in DATASETS
        for f in FRAMEWORKS
        for s in (0, 1, 2)
        if (t, f, d, s) not in measured
    ]
    lines += ["", "## Not measured yet", ""]
    lines.append(
        "At the answers' current defaults (steps: " + "; ".join(steps_text(topic) for topic in TOPICS) + "):"
    )
    lines.append("")
    lines.append(
        f"{len(missing)} of the {len(TOPICS) * len(DATASETS) * len(FRAMEWORKS) * 3} runs of the full "
        "grid (4 topics × 2 data sets × 4 frameworks × seeds 0-2) have no row: "
        + (", ".join(missing) if missing else "none")
        + "."
    )
    text = "\n".join(lines) + "\n"
    return text + ("\n" + notes.rstrip() + "\n" if notes else "")


def kept_notes(path):
    """The hand-written part of an existing real_data.md: from the NOTES heading to the end."""
    text = path.read_text() if path.exists() else ""
    return text[text.index(NOTES) :] if NOTES in text else ""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", nargs="*", choices=TOPICS, default=list(TOPICS))
    parser.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, default=list(FRAMEWORKS))
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=0, help="override the default steps (0: keep them)")
    parser.add_argument("--threads", type=int, default=1, help="thread pool size of every run")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds before a run is given up")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--pix2pix", action="store_true", help="also pix2pix on real photographs")
    parser.add_argument("--table-only", action="store_true", help="rewrite real_data.md from the JSON")
    parser.add_argument("--pix2pix-child", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--score-child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.score_child:
        topic, framework, folder, count, result = args.score_child
        score_child(topic, framework, folder, int(count), result)
        return 0
    if args.pix2pix_child:
        framework, folder, seed, steps, result = args.pix2pix_child
        pix2pix_child(framework, folder, int(seed), int(steps), result)
        return 0

    json_file = args.out / "real_data.json"
    results = json.loads(json_file.read_text()) if json_file.exists() else {"runs": [], "rows": []}
    table = args.out / "real_data.md"
    if args.table_only:
        if not json_file.exists():
            parser.error(f"--table-only rewrites the table from {json_file}, which does not exist")
        table.write_text(markdown(results, kept_notes(table)))
        return 0
    new_rows = []
    for topic in args.topics:
        for dataset in args.datasets:
            for framework in args.frameworks:
                for seed in args.seeds:
                    print(f"{topic} {framework} {dataset} seed {seed} ...", flush=True)
                    row = run_one(topic, framework, dataset, seed, args)
                    detail = row.get("error") or (
                        f"fd {row['fd']:.1f} (real {row['fd_real']:.2f}), coverage {row['coverage']:.2f}, "
                        f"{row['train_s']} s"
                        if row.get("fd") is not None
                        else row.get("skipped")
                    )
                    print(f"  {detail}", flush=True)
                    new_rows.append(row)
                    results["rows"] = merge(results["rows"], new_rows)
                    args.out.mkdir(parents=True, exist_ok=True)
                    json_file.write_text(json.dumps(results, indent=1) + "\n")
    for framework in args.frameworks if args.pix2pix else ():
        for seed in args.seeds:
            print(f"pix2pix {framework} photos seed {seed} ...", flush=True)
            row = run_pix2pix(framework, seed, args)
            detail = row.get("error") or f"l1 held {row['l1_held']:.3f} (copy {row['l1_copy']:.3f})"
            print(f"  {detail}", flush=True)
            new_rows.append(row)
            results["rows"] = merge(results["rows"], new_rows)
            args.out.mkdir(parents=True, exist_ok=True)
            json_file.write_text(json.dumps(results, indent=1) + "\n")
    results["runs"].append(
        {
            "date": datetime.date.today().isoformat(),
            "rows": len(new_rows),
            "threads": args.threads,
            "machine": machine(),
        }
    )
    json_file.write_text(json.dumps(results, indent=1) + "\n")
    table.write_text(markdown(results, kept_notes(table)))
    print(f"wrote {args.out / 'real_data.md'} and {json_file.name}")
    failed = [
        r for r in new_rows if "error" in r or (r["topic"] != "pix2pix" and (r.get("coverage") or 0) < BAR)
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
