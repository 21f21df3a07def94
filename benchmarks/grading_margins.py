"""How far the reference answers clear each threshold of the grader's tiny-run checks.

A check that sits near its line on a tiny run flips with the seed, the thread count or a float
rounding, and a student then loses points for the reference solution itself (issue 16). This
script runs every answer's tiny trainings over several seeds, each in the grader's own sealed
process (one thread, whatever the grader's setting), computes every checked quantity exactly as
the checks do, and writes the spread beside the threshold:

    python benchmarks/grading_margins.py                      # all topics × frameworks, seeds 0-2
    python benchmarks/grading_margins.py --topics vae --frameworks pytorch --seeds 5

Results: benchmarks/results/grading_margins.md (with the machine it ran on).
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import harness  # noqa: E402
import test_cgan  # noqa: E402
import test_gan  # noqa: E402
import test_learning as learning  # noqa: E402
import test_wgan  # noqa: E402

from gendojo import FRAMEWORKS, gan_metrics  # noqa: E402

TOPICS = ("ae", "convae", "vae", "gan", "dcgan", "cgan", "wgan", "pix2pix")


def falls(run, spec):
    """(end - FALL_RATIO × first) / |first|: below 0 passes ``harness.check_falls``, whatever the
    sign of the loss (the WGAN critic's is negative)."""
    values = np.asarray(run.history[spec.FALLING], dtype=np.float64)
    first = values[:10].mean()
    if getattr(spec, "FALL_WINDOW", "last") == "lowest":
        end = np.convolve(values[10:], np.ones(10) / 10, mode="valid").min()
    else:
        end = values[-10:].mean()
    return (end - spec.FALL_RATIO * first) / abs(first)


def measure(answer, topic, seed):
    """{quantity: (value, threshold, "below"|"above")} for one seed."""
    spec = harness.topic_spec(topic)
    run = harness.train_tiny(answer, topic, seed=seed)
    out = {
        f"history {spec.FALLING}: (end − {spec.FALL_RATIO} × first) / |first| (information)": (
            falls(run, spec),
            0.0,
            "below",
        )
    }
    fresh = answer.build(run.config)
    if topic in learning.RECONSTRUCTING:
        images = learning.held_out(run.config).images
        before = learning.mse(answer.reconstruct(fresh, images), images)
        after = learning.mse(answer.reconstruct(run.networks, images), images)
        out["held-out error after/before"] = (after / before, learning.LEARNED_RATIO[topic], "below")
    if topic == "vae":
        images = learning.held_out(run.config).images
        mean, log_variance = learning.encoded(answer, run.networks, images)
        out["codes' mean log-variance"] = (log_variance.mean(), learning.LOG_VARIANCE_BELOW, "below")
        heavy = harness.train_tiny(answer, topic, seed=seed, beta=learning.VAE_PROBE_BETA)
        kl_heavy = learning.kl_from_prior(*learning.encoded(answer, heavy.networks, images))
        out["KL beta 20 / beta 1"] = (
            kl_heavy / learning.kl_from_prior(mean, log_variance),
            learning.KL_RATIO,
            "below",
        )
    if topic == "pix2pix":
        sources, targets = run.data.sources[:16], run.data.images[:16]
        before = np.abs(answer.translate(fresh, sources) - targets).mean()
        after = np.abs(answer.translate(run.networks, sources) - targets).mean()
        out["training-pair L1 after/before"] = (after / before, 0.7, "below")
        held = learning.held_out(run.config)
        before = np.abs(answer.translate(fresh, held.sources) - held.images).mean()
        after = np.abs(answer.translate(run.networks, held.sources) - held.images).mean()
        out["held-out L1 after/before"] = (after / before, learning.LEARNED_RATIO[topic], "below")
    if topic in learning.GENERATING:
        made = learning.samples(answer, run.networks, run.config)
        out["samples' per-pixel spread"] = (float(made.std(axis=0).mean()), 1e-4, "above")
        flat = made.reshape(len(made), -1)
        train = run.data.images.reshape(len(run.data.images), -1)
        nearest = np.sqrt(((flat[:, None, :] - train[None]) ** 2).mean(axis=2)).min(axis=1)
        out["share of copies"] = (float(np.mean(nearest < 0.02)), 0.5, "below")
        g_run = harness.train_tiny(answer, topic, seed=seed, **test_gan.G_RUN.get(topic, {}))
        g_fresh = answer.build(g_run.config)
        before = gan_metrics.moment_distance(
            test_gan._samples(answer, g_fresh, g_run.config), g_run.data.images
        )
        after = gan_metrics.moment_distance(
            test_gan._samples(answer, g_run.networks, g_run.config), g_run.data.images
        )
        out["G moment distance after/before"] = (after / before, test_gan.G_RATIO, "below")
        fakes = test_gan._samples(answer, run.networks, run.config, count=len(run.data.images))
        if topic == "wgan":
            estimate = np.asarray(run.history["wasserstein"], dtype=np.float64)
            out["Wasserstein rise last 5 / |first 5|"] = (
                estimate[-5:].mean() / abs(estimate[:5].mean()),
                test_wgan.RISE,
                "above",
            )
            gap = np.mean(answer.critique(run.networks, run.data.images)) - np.mean(
                answer.critique(run.networks, fakes)
            )
        elif topic == "cgan":
            labels = run.data.labels
            real = answer.discriminate(run.networks, run.data.images, labels)
            gap = np.mean(real) - np.mean(
                answer.discriminate(run.networks, fakes, labels % run.config.num_classes)
            )
        else:
            gap = np.mean(answer.discriminate(run.networks, run.data.images)) - np.mean(
                answer.discriminate(run.networks, fakes)
            )
        out["D/critic real minus fake score"] = (float(gap), 0.0, "above")
        if topic == "cgan":
            classes = run.config.num_classes
            count = test_cgan.LABEL_SAMPLES
            made = np.concatenate([
                test_gan._samples(answer, run.networks, run.config, count=count, labels=np.full(count, c))
                for c in range(classes)
            ])  # fmt: skip
            labels = np.repeat(np.arange(classes), count)
            real = test_cgan.effects(run.data.images, run.data.labels, classes)
            score, _ = test_cgan.label_score(test_cgan.effects(made, labels, classes), real)
            out["label score"] = (score, test_cgan.LABEL_SCORE, "above")
    return {name: (float(v), float(t), d) for name, (v, t, d) in out.items()}


def margin(values, threshold, direction):
    """How far the worst seed is from the line, as a share of the line; for a line at 0, as a share
    of the median distance from it (the quantity has no natural scale then)."""
    worst = max(values) if direction == "below" else min(values)
    gap = threshold - worst if direction == "below" else worst - threshold
    scale = abs(threshold) or float(np.median(np.abs(values))) or 1.0
    return gap / scale


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", nargs="+", default=list(TOPICS))
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results" / "grading_margins"))
    parser.add_argument("--why", default="", help="a part run: why it was measured again (for the table)")
    args = parser.parse_args(argv)
    rows, started = [], time.time()
    for topic in args.topics:
        for framework in args.frameworks:
            ref = harness.reference(topic, framework)
            answer = harness.load(ref)
            per_seed = []
            for seed in range(args.seeds):
                per_seed.append(measure(answer, topic, seed))
                print(
                    f"{topic} {framework} seed {seed}: "
                    + ", ".join(f"{k} {v[0]:.4g}" for k, v in per_seed[-1].items()),
                    flush=True,
                )
            harness.release(ref)
            for name, (_, threshold, direction) in per_seed[0].items():
                values = [m[name][0] for m in per_seed]
                rows.append(dict(topic=topic, framework=framework, quantity=name, threshold=threshold,
                                 direction=direction, values=values, margin=margin(values, threshold, direction)))  # fmt: skip
    write(rows, args, time.time() - started)


def write(rows, args, seconds):
    """Write the table. A part run (some topics or frameworks) replaces only its own rows of the
    committed table and adds a line saying when and why they were measured again."""
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = set(args.topics) != set(TOPICS) or set(args.frameworks) != set(FRAMEWORKS)
    header, again = None, []
    if part and out.with_suffix(".json").exists():
        measured = {(r["topic"], r["framework"]) for r in rows}
        kept = [r for r in json.loads(out.with_suffix(".json").read_text())
                if (r["topic"], r["framework"]) not in measured]  # fmt: skip
        order = {(t, f): i for i, (t, f) in enumerate((t, f) for t in TOPICS for f in FRAMEWORKS)}
        rows = sorted(kept + rows, key=lambda r: order.get((r["topic"], r["framework"]), len(order)))
        old = out.with_suffix(".md").read_text().splitlines()
        header = old[2]
        again = [line for line in old[3 : old.index("| topic | framework | quantity | line | seeds | worst margin |")]
                 if line.startswith("The ")]  # fmt: skip
        # the flags that narrowed this run, as a reader would type them again
        choices = (("topics", args.topics, TOPICS), ("frameworks", args.frameworks, FRAMEWORKS))
        narrowed = [
            f"--{name} {' '.join(chosen)}" for name, chosen, every in choices if set(chosen) != set(every)
        ]
        command = " ".join(["python benchmarks/grading_margins.py", *narrowed])
        again.append(
            f"The {', '.join(args.topics)} rows ({', '.join(args.frameworks)}) were measured again on "
            f"{time.strftime('%Y-%m-%d')} with `{command}` ({seconds / 60:.1f} min, on {platform.node()})"
            + (f", {args.why}" if args.why else "")
            + "."
        )
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    lines = [
        "# Grading margins: the reference answers against the grader's thresholds",
        "",
        header
        or f"Measured by `python benchmarks/grading_margins.py --seeds {args.seeds}` on {platform.node()} "
        f"({platform.machine()}, {platform.processor() or 'cpu'}), Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}, {seconds / 60:.1f} min. Each answer ran in the grader's sealed "
        "process with one thread, so neither the grader's thread count nor `-n` changes a number here; "
        "what varies is the seed (a student's correct answer differs from the reference by about as much).",
        "",
        *(line for a in again for line in (a, "")),
        "Margin: how far the worst seed stays from the line, as a share of the line (for a line at 0, as "
        "a share of the median distance from it). A negative margin is a check the reference fails for "
        "some seed; ⚠ marks margins below 0.1.",
        "",
        "| topic | framework | quantity | line | seeds | worst margin |",
        "|---|---|---|---|---|---:|",
    ]
    for row in rows:
        sign = "<" if row["direction"] == "below" else ">"
        values = ", ".join(f"{v:.3g}" for v in row["values"])
        flag = " ⚠" if row["margin"] < 0.1 else ""
        lines.append(
            f"| {row['topic']} | {row['framework']} | {row['quantity']} | {sign} {row['threshold']:g} | {values} | {row['margin']:.2f}{flag} |"
        )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
