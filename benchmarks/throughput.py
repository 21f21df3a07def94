"""Training throughput of every answer, and of a plain reference loop of the same framework beside it.

For each topic × framework: the answer's own ``train`` at its default config (``steps`` set to
warmup + window), with a callback that takes a timestamp after every step; then the reference
loop (benchmarks/reference/) on the same networks. Each is a fresh process
(benchmarks/measure.py) with its thread pools set to ``--threads``. A step's time is the gap
between two timestamps; the first ``--warmup`` steps (tracing, compiling, caches) are dropped and
the median of the next ``--window`` is reported, with its interquartile range. The ratio is the
answer's median over the reference's, measured back to back (answer first in odd rounds,
reference first in even ones) so that both see the same machine.

    python benchmarks/throughput.py                                  # everything: see README.md
    python benchmarks/throughput.py --topics ae dcgan --frameworks pytorch keras --threads 2
    python benchmarks/throughput.py --warmup 2 --window 3 --out /tmp/bench   # a quick try

Writes ``throughput.md``, ``throughput.csv`` and ``throughput.json`` to ``--out``.
"""

import argparse
import csv
import datetime
import importlib.metadata
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.measure import cpu_counters, thread_environment

ROOT = Path(__file__).resolve().parents[1]
TOPICS = ("ae", "convae", "vae", "gan", "dcgan", "cgan", "wgan", "pix2pix")
FRAMEWORKS = ("pytorch", "tensorflow", "keras", "chainer")
KINDS = ("answer", "reference")
PACKAGES = ("torch", "tensorflow", "keras", "chainer", "numpy")
REFERENCE_LOOPS = {  # what the reference loop is, in a few words (benchmarks/reference/)
    "pytorch": "DataLoader, zero_grad/backward/step",
    "tensorflow": "tf.data, @tf.function + GradientTape",
    "keras": "model.fit",
    "keras-gan": "train_on_batch loop",
    "chainer": "SerialIterator, StandardUpdater, Trainer",
}


# --- measuring -----------------------------------------------------------------------------------


def run_one(topic, framework, kind, args):
    """One measurement in a fresh process; returns its result dict (with ``error`` on failure)."""
    with tempfile.TemporaryDirectory() as folder:
        result_file = Path(folder) / "result.json"
        command = [
            sys.executable,
            str(ROOT / "benchmarks" / "measure.py"),
            *("--topic", topic, "--framework", framework, "--kind", kind),
            *("--steps", str(args.warmup + args.window), "--threads", str(args.threads)),
            "--result",
            str(result_file),
        ]
        if args.device:
            command += ["--device", args.device]
        env = {**os.environ, **thread_environment(args.threads), "TF_CPP_MIN_LOG_LEVEL": "3"}
        started = time.perf_counter()
        try:
            process = subprocess.run(
                command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=args.timeout
            )
        except subprocess.TimeoutExpired:
            return {"error": f"no result within {args.timeout} s", "wall_s": args.timeout}
        wall = time.perf_counter() - started
        if process.returncode != 0 or not result_file.exists():
            tail = (process.stderr or process.stdout).strip().splitlines()[-1:] or ["no output"]
            return {"error": f"exit {process.returncode}: {tail[0][:300]}", "wall_s": wall}
        result = json.loads(result_file.read_text())
    result["wall_s"] = wall
    result["load_1min"] = os.getloadavg()[0]
    return result


def others_busy(seconds=1.0):
    """Share of all CPUs that other processes use over the next ``seconds`` (this one sleeps)."""
    before = cpu_counters()
    time.sleep(seconds)
    after = cpu_counters()
    return None if before is None else (after[0] - before[0]) / (seconds * (os.cpu_count() or 1))


def wait_until_quiet(args, log):
    """Before a measurement: wait (at most ``--wait-quiet`` seconds) while other processes use
    more than ``--quiet-threshold`` of the CPUs. On 2 cores, one busy process next to a
    2-thread framework can slow its steps down many times over."""
    if args.wait_quiet <= 0:
        return
    deadline, said = time.monotonic() + args.wait_quiet, False
    while (share := others_busy()) is not None and share > args.quiet_threshold:
        if time.monotonic() >= deadline:
            log(
                f"  still busy after {args.wait_quiet} s (others use {share:.0%} of the CPUs): measuring anyway"
            )
            return
        if not said:
            log(f"  waiting for other processes to finish (they use {share:.0%} of the CPUs)")
            said = True
        time.sleep(5)


def others_share(result):
    cpu = result.get("cpu")
    return None if cpu is None else cpu["others_share"]


def window_ms(result, warmup, window):
    """Milliseconds of steps warmup+1 … warmup+window (a step: the gap between two timestamps)."""
    stamps = result["stamps"]
    return [
        1000 * (b - a) for a, b in zip(stamps[warmup - 1 : warmup + window - 1], stamps[warmup:], strict=True)
    ]


def summary(times):
    if not times:
        return None
    q1, median, q3 = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else times * 3
    return {
        "median_ms": median,
        "q1_ms": q1,
        "q3_ms": q3,
        "iqr_ms": q3 - q1,
        "mean_ms": statistics.fmean(times),
        "steps": len(times),
    }


def measure_round(topic, framework, order, args, log):
    """The answer and the reference once each, in ``order``; again (up to ``--retries`` times)
    when another process was busy during either. Returns the kept results and the discarded."""
    discarded = []
    for attempt in range(args.retries + 1):
        results = {}
        for kind in order:
            wait_until_quiet(args, log)
            results[kind] = run_one(topic, framework, kind, args)
        busy = [share for r in results.values() if (share := others_share(r)) is not None]
        if attempt == args.retries or not busy or max(busy) <= args.quiet_threshold:
            return results, discarded
        log(f"  {topic:8} {framework:10} others used {max(busy):.0%} of the CPUs meanwhile: measuring again")
        discarded.append(
            [{"kind": k, "others_share": others_share(r), **_median(r, args)} for k, r in results.items()]
        )
    raise AssertionError("unreachable")


def _median(result, args):
    if "error" in result or len(result["stamps"]) < args.warmup + args.window:
        return {}
    return {"median_ms": statistics.median(window_ms(result, args.warmup, args.window))}


def measure_pair(topic, framework, args, log):
    """All rounds of the answer and its reference, alternating; their pooled window statistics."""
    kinds = ("answer",) if args.no_reference else KINDS
    times = {kind: [] for kind in kinds}
    runs = {kind: [] for kind in kinds}
    discarded = []
    for round_index in range(args.rounds):
        order = kinds if round_index % 2 == 0 else tuple(reversed(kinds))
        results, thrown_away = measure_round(topic, framework, order, args, log)
        discarded += [{"round": round_index, "runs": attempt} for attempt in thrown_away]
        for kind in order:
            result = results[kind]
            if "error" not in result and len(result["stamps"]) < args.warmup + args.window:
                result = {"error": f"only {len(result['stamps'])} steps timed", "wall_s": result["wall_s"]}
            run = {"round": round_index, "wall_s": round(result["wall_s"], 2)}
            if "error" in result:
                run["error"] = result["error"]
                log(f"  {topic:8} {framework:10} {kind:9} FAILED: {result['error']}")
            else:
                step_ms = window_ms(result, args.warmup, args.window)
                times[kind] += step_ms
                run.update(
                    median_ms=statistics.median(step_ms),
                    first_step_s=result["stamps"][0] - result["start"],
                    load_1min=result["load_1min"],
                    others_share=others_share(result),
                    steal_share=result["cpu"] and result["cpu"]["steal_share"],
                    threads=result["threads"],
                    device=result["device"],
                    config=result["config"],
                    step_ms=[round(t, 3) for t in step_ms],
                )
                busy = "" if run["others_share"] is None else f", others {run['others_share']:.0%}"
                log(
                    f"  {topic:8} {framework:10} {kind:9} {run['median_ms']:9.2f} ms/step"
                    f"  (process {result['wall_s']:.1f} s, load {result['load_1min']:.2f}{busy})"
                )
            runs[kind].append(run)
    row = {"topic": topic, "framework": framework, "discarded": discarded}
    shares = [
        run["others_share"] for kind in kinds for run in runs[kind] if run.get("others_share") is not None
    ]
    row["others_max"] = max(shares) if shares else None
    for kind in kinds:
        row[kind] = summary(times[kind])
        row[f"{kind}_runs"] = runs[kind]
    if not args.no_reference and row["answer"] and row["reference"]:
        row["ratio"] = row["answer"]["median_ms"] / row["reference"]["median_ms"]
    return row


# --- describing the machine --------------------------------------------------------------------------


def machine():
    def first(path, key):
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1].strip('"')
        except OSError:
            pass
        return None

    memory = first("/proc/meminfo", "MemTotal")
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "cpu": first("/proc/cpuinfo", "model name") or platform.processor() or platform.machine(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory": f"{int(memory.split()[0]) / 2**20:.1f} GiB" if memory else None,
        "os": first("/etc/os-release", "PRETTY_NAME=") or platform.platform(),
        "kernel": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
    }


# --- writing the results -------------------------------------------------------------------------


def round_ratios(row):
    """answer ÷ reference of each round's medians: how far the ratio moves from round to round."""
    medians = {
        kind: {run["round"]: run["median_ms"] for run in row.get(f"{kind}_runs", []) if "median_ms" in run}
        for kind in KINDS
    }
    rounds = sorted(set(medians["answer"]) & set(medians["reference"]))
    return [medians["answer"][r] / medians["reference"][r] for r in rounds]


def busy_cell(row, threshold):
    share = row.get("others_max")
    if share is None:
        return "—"
    return f"{share:.0%}" + (" ⚠" if share > threshold else "")


def fmt(value, digits=1):
    return "—" if value is None else f"{value:.{digits}f}"


def loop_name(topic, framework):
    if framework == "keras" and topic not in ("ae", "convae", "vae"):
        return REFERENCE_LOOPS["keras-gan"]
    return REFERENCE_LOOPS[framework]


def busy_line(meta, rows):
    shares = meta["others_shares"]
    if not shares:
        return "- **other processes:** not measured (no /proc/stat)"
    flagged = sum(1 for row in rows if (row["others_max"] or 0) > meta["quiet_threshold"])
    return (
        f"- **other processes** used a median {statistics.median(shares):.1%} and at most {max(shares):.1%} of "
        f"the CPUs during the kept measurements (hypervisor steal at most {meta['steal_max']:.1%}); "
        f"{meta['remeasured']} round(s) were measured again because others used more than "
        f"{meta['quiet_threshold']:.0%}; {flagged} row(s) marked ⚠ still had one above it"
    )


def render_markdown(report):
    meta, rows = report["meta"], report["rows"]
    m = meta["machine"]
    packages = ", ".join(f"{name} {version}" for name, version in m["packages"].items())
    lines = [
        "# Training throughput",
        "",
        "Median milliseconds per training step of each answer at its default config, over a window of",
        f"{meta['window']} steps after {meta['warmup']} warm-up steps, and of a plain reference loop of the same",
        "framework on the same networks (benchmarks/reference/). **ratio** = answer ÷ reference, measured",
        "back to back in the same run: near 1 means GenDojo's loop costs nothing over the framework's own",
        "way. See [benchmarks/README.md](../README.md) for how to read it.",
        "",
        f"- **machine:** {m['cpu']}, {m['logical_cpus']} logical CPUs ({m['usable_cpus']} usable), "
        f"{m['memory']} RAM, {m['os']} ({m['kernel']})",
        f"- **device:** {', '.join(sorted(meta['devices'])) or '—'}",
        f"- **software:** Python {m['python']}, {packages}; Keras backend: "
        f"{', '.join(sorted(meta['keras_backends'])) or 'not measured'}",
        f"- **threads:** {meta['threads']} per process ({', '.join(f'{k}={v}' for k, v in meta['thread_environment'].items())}; "
        "torch.set_num_threads / set_num_interop_threads and TensorFlow's intra/inter-op pools set to the same)",
        f"- **date:** {meta['date']}; this run took {meta['total_s'] / 60:.1f} min "
        f"({meta['measurements']} measurements, {meta['rounds']} round(s) each)",
        f"- **load average (1 min):** {meta['load_start']:.2f} at the start, {meta['load_end']:.2f} at the end, "
        f"{meta['load_max']:.2f} the highest seen after a measurement",
        busy_line(meta, rows),
        f"- **command:** `{meta['command']}`",
        *update_lines(meta),
        "",
    ]
    frameworks = [f for f in FRAMEWORKS if any(r["framework"] == f for r in rows)]
    topics = [t for t in TOPICS if any(r["topic"] == t for r in rows)]
    by_key = {(r["topic"], r["framework"]): r for r in rows}
    lines += [
        "## Answer ms/step (ratio to the reference)",
        "",
        "| topic | " + " | ".join(frameworks) + " |",
        "|---|" + "---:|" * len(frameworks),
    ]
    for topic in topics:
        cells = []
        for framework in frameworks:
            row = by_key.get((topic, framework))
            if not row or not row.get("answer"):
                cells.append("failed" if row else "")
                continue
            ratio = f" ({row['ratio']:.2f}×)" if row.get("ratio") is not None else ""
            cells.append(f"{row['answer']['median_ms']:.1f}{ratio}")
        lines.append(f"| {topic} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Every measurement",
        "",
        "| topic | framework | answer ms/step | IQR | reference ms/step | IQR | ratio | per round | others' CPU | reference loop |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for row in rows:
        answer, reference = row.get("answer"), row.get("reference")
        errors = [run["error"] for kind in KINDS for run in row.get(f"{kind}_runs", []) if "error" in run]
        lines.append(
            f"| {row['topic']} | {row['framework']} | {fmt(answer and answer['median_ms'])} "
            f"| {fmt(answer and answer['iqr_ms'])} | {fmt(reference and reference['median_ms'])} "
            f"| {fmt(reference and reference['iqr_ms'])} | {fmt(row.get('ratio'), 2)} "
            f"| {', '.join(f'{r:.2f}' for r in round_ratios(row))} "
            f"| {busy_cell(row, report['meta']['quiet_threshold'])} "
            f"| {loop_name(row['topic'], row['framework'])}"
            + (f"; failed: {errors[0]}" if errors else "")
            + " |"
        )
    lines += [
        "",
        "IQR: interquartile range of the window's step times (ms). Per round: the ratio of each round's",
        "medians alone; where they fall on both sides of 1, the row's ratio is noise. Others' CPU: the most CPU that other",
        "processes used during one of the row's kept measurements, as a share of all CPUs (⚠: above",
        f"{report['meta']['quiet_threshold']:.0%}; on 2 cores that can slow a 2-thread framework down many times over).",
        "Per-step times, per-round medians, the time to the first step, the load average after each",
        "measurement and the discarded (busy) rounds are in throughput.json.",
        "",
    ]
    return "\n".join(lines)


def merge(old, new):
    """``old``'s rows with those ``new`` measured again replaced, in table order; ``old``'s header
    stays, and ``new``'s is kept under ``meta["updates"]`` with the rows it replaced."""
    measured = {(row["topic"], row["framework"]): row for row in new["rows"]}
    rows = {(row["topic"], row["framework"]): row for row in old["rows"]} | measured
    order = [(t, f) for t in TOPICS for f in FRAMEWORKS if (t, f) in rows]
    update = {**new["meta"], "rows": [f"{t} {f}" for t, f in order if (t, f) in measured]}
    meta = {**old["meta"], "updates": [*old["meta"].get("updates", []), update]}
    return {"meta": meta, "rows": [rows[key] for key in order]}


def update_lines(meta):
    """One header line per --update run: which rows it measured again, when and how busy."""
    lines, cpu = [], meta.get("machine", {}).get("cpu")
    for update in meta.get("updates", []):
        shares = update["others_shares"]
        others = f"; others' CPU at most {max(shares):.1%}" if shares else ""
        where = update.get("machine", {}).get("cpu")
        # rows from another processor cannot be set against the header's: say so in the line
        elsewhere = f", **on another machine: {where}**," if where and where != cpu else ""
        lines.append(
            f"- **measured again:** {', '.join(update['rows'])} on {update['date']}{elsewhere} ({update['threads']} "
            f"threads; load average {update['load_start']:.2f} → {update['load_end']:.2f}{others}; "
            f"{update['total_s'] / 60:.1f} min): `{update['command']}`"
        )
    return lines


def write(report, out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "throughput.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "throughput.md").write_text(render_markdown(report))
    with open(out / "throughput.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["topic", "framework"]
            + [
                f"{kind}_{s}"
                for kind in KINDS
                for s in ("median_ms", "q1_ms", "q3_ms", "iqr_ms", "mean_ms", "steps")
            ]
            + ["ratio", "others_cpu_max", "reference_loop"]
        )
        for row in report["rows"]:
            values = [row["topic"], row["framework"]]
            for kind in KINDS:
                stats = row.get(kind) or {}
                values += [
                    round(stats[s], 3) if s in stats else ""
                    for s in ("median_ms", "q1_ms", "q3_ms", "iqr_ms", "mean_ms", "steps")
                ]
            ratio = row.get("ratio")
            others = row.get("others_max")
            values += [
                "" if ratio is None else round(ratio, 4),
                "" if others is None else round(others, 4),
                loop_name(row["topic"], row["framework"]),
            ]
            writer.writerow(values)


# --- command line ----------------------------------------------------------------------------------


def parse(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--topics", nargs="+", default=list(TOPICS), choices=TOPICS, help="topics to measure")
    parser.add_argument(
        "--frameworks", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS, help="frameworks to measure"
    )
    parser.add_argument("--warmup", type=int, default=10, help="steps left out at the start")
    parser.add_argument("--window", type=int, default=30, help="steps measured after the warm-up")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count(), help="threads of every framework's pools, per process"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="answer/reference pairs per topic × framework (order alternates)",
    )
    parser.add_argument(
        "--quiet-threshold",
        type=float,
        default=0.1,
        help="share of all CPUs other processes may use before the machine counts as busy",
    )
    parser.add_argument(
        "--wait-quiet",
        type=int,
        default=300,
        help="seconds to wait at most, before each measurement, for a busy machine (0: never wait)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help="times to measure a round again when the machine was busy during it",
    )
    parser.add_argument("--device", default=None, help="override the answers' device (auto, cpu, gpu)")
    parser.add_argument("--no-reference", action="store_true", help="measure the answers only")
    parser.add_argument("--timeout", type=int, default=900, help="seconds one measurement may take")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="folder for the results")
    parser.add_argument(
        "--update",
        action="store_true",
        help="replace only the measured rows of the results already in --out, keep the others",
    )
    args = parser.parse_args(argv)
    if args.warmup < 1 or args.window < 1 or args.rounds < 1 or args.threads < 1:
        parser.error("--warmup, --window, --rounds and --threads must be at least 1")
    return args


def main(argv=None):
    args = parse(argv)
    command = "python benchmarks/throughput.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    load_start = os.getloadavg()[0]
    started = time.perf_counter()

    def log(line):
        print(line, flush=True)

    log(f"{command}\nload average {load_start:.2f}; {args.threads} threads per process")
    rows = []
    for topic in args.topics:
        for framework in args.frameworks:
            rows.append(measure_pair(topic, framework, args, log))
            if row_ratio := rows[-1].get("ratio"):
                log(f"  {topic:8} {framework:10} ratio {row_ratio:.2f}")
    runs = [run for row in rows for kind in KINDS for run in row.get(f"{kind}_runs", [])]
    meta = {
        "command": command,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "threads": args.threads,
        "thread_environment": thread_environment(args.threads),
        "warmup": args.warmup,
        "window": args.window,
        "rounds": args.rounds,
        "total_s": time.perf_counter() - started,
        "measurements": len(runs),
        "load_start": load_start,
        "load_end": os.getloadavg()[0],
        "load_max": max([run.get("load_1min", 0.0) for run in runs] + [load_start]),
        "quiet_threshold": args.quiet_threshold,
        "others_shares": sorted(run["others_share"] for run in runs if run.get("others_share") is not None),
        "steal_max": max([run.get("steal_share") or 0.0 for run in runs] + [0.0]),
        "remeasured": sum(len(row["discarded"]) for row in rows),
        "devices": sorted({run["device"] for run in runs if "device" in run}),
        "keras_backends": sorted(
            {run["threads"]["keras_backend"] for run in runs if "keras_backend" in run.get("threads", {})}
        ),
        "thread_settings": sorted(
            {json.dumps(run["threads"], sort_keys=True) for run in runs if "threads" in run}
        ),
    }
    report = {"meta": meta, "rows": rows}
    previous = Path(args.out) / "throughput.json"
    if args.update and previous.exists():
        report = merge(json.loads(previous.read_text()), report)
    write(report, args.out)
    log(f"wrote {args.out}/throughput.md, .csv, .json in {meta['total_s'] / 60:.1f} min")
    failed = sum("error" in run for run in runs)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
