"""Where a trained VAE's codes lie, compared with the prior it samples from (questions/vae.md).

Trains the PyTorch VAE answer at its default config (2000 steps, about 30 s on one core), then
measures the *aggregate posterior* q(z) = mean over the training images of q(z|x), the
distribution prior samples would have to come from to look like reconstructions:

- the spread of the latent means (per axis: mean, standard deviation, 1st and 99th percentile);
- how much of the prior N(0, I) falls where q(z) is thin: the share of 4000 prior draws at which
  q(z) is below the density that 99 % of the training codes exceed;
- how colourful images are (mean over pixels of max(R, G, B) − min(R, G, B), in [0, 2]): real
  images, their reconstructions, and prior samples.

It also writes a decoded lattice over [-4, 4]² (the range of the seed notes' lattice) as
``--picture``. Not part of the test run:

    python benchmarks/vae_latent.py --picture assets/vae/vae_pytorch_latent_lattice_wide.png
"""

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gendojo  # noqa: E402
from gendojo import latent  # noqa: E402


def load_answer(topic, framework):
    path = ROOT / "answers" / topic / f"{topic}_{framework}.py"
    spec = importlib.util.spec_from_file_location(f"{topic}_{framework}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rounded(values, digits):
    return [round(float(value), digits) for value in values]


def colourfulness(images):
    """Mean over pixels of max(R, G, B) − min(R, G, B): 0 for grey, up to 2 in [-1, 1] images."""
    return float(np.mean(images.max(axis=-1) - images.min(axis=-1)))


def hue_shares(images):
    """Share of images per hue sector (red, yellow, green, cyan, blue, magenta) of each image's
    most colourful tenth of pixels: which colours a set of images uses."""
    import cv2

    pixels = ((np.clip(images, -1, 1) + 1) * 127.5).astype(np.uint8).reshape(len(images), -1, 3)
    chroma = pixels.max(axis=-1).astype(int) - pixels.min(axis=-1)
    keep = max(1, pixels.shape[1] // 10)
    top = np.argsort(chroma, axis=1)[:, -keep:]
    colours = np.take_along_axis(pixels, top[..., None], axis=1).mean(axis=1).astype(np.uint8)
    hues = cv2.cvtColor(colours[None], cv2.COLOR_RGB2HSV_FULL)[0, :, 0].astype(int)  # 0..255
    sectors = ((hues + 21) % 256) * 6 // 256
    counts = np.bincount(sectors, minlength=6) / len(images)
    return dict(
        zip(("red", "yellow", "green", "cyan", "blue", "magenta"), counts.round(3).tolist(), strict=True)
    )


def aggregate_density(points, means, log_variances, chunk=256):
    """q(z) = mean_i N(z; μ_i, diag σ_i²) at each of ``points`` (first two dimensions)."""
    means, variances = means[:, :2], np.exp(log_variances[:, :2])
    densities = []
    for start in range(0, len(points), chunk):
        z = points[start : start + chunk, None, :2]
        exponent = -0.5 * np.sum((z - means[None]) ** 2 / variances[None], axis=-1)
        norm = 1.0 / (2 * np.pi * np.sqrt(np.prod(variances, axis=-1)))
        densities.append(np.mean(norm[None] * np.exp(exponent), axis=1))
    return np.concatenate(densities)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="training steps (default: the answer's)")
    parser.add_argument("--picture", default="", help="write the [-4, 4]² lattice here")
    parser.add_argument("--limit", type=float, default=4.0, help="half-width of the lattice")
    args = parser.parse_args(argv)

    answer = load_answer("vae", "pytorch")
    config = answer.Config(steps=args.steps, quiet=True, latent_plots=False)
    data = gendojo.load_dataset(config)
    started = time.perf_counter()
    networks, history = answer.train(config, data)
    seconds = time.perf_counter() - started

    means, log_variances = [], []
    for start in range(0, len(data.images), 512):
        mean, log_variance = answer.encode(networks, data.images[start : start + 512])
        means.append(mean)
        log_variances.append(log_variance)
    means, log_variances = np.concatenate(means), np.concatenate(log_variances)

    prior = np.random.default_rng(1).standard_normal((4000, means.shape[1])).astype(np.float32)
    at_codes = aggregate_density(means, means, log_variances)
    at_prior = aggregate_density(prior, means, log_variances)
    thin = float(np.percentile(at_codes, 1))

    shown = data.images[:1000]
    result = {
        "steps": args.steps,
        "train_seconds": round(seconds, 1),
        "final_loss": round(float(np.mean(history["loss"][-50:])), 2),
        "code_mean": rounded(means.mean(axis=0), 3),
        "code_std": rounded(means.std(axis=0), 3),
        "code_p1": rounded(np.percentile(means, 1, axis=0), 2),
        "code_p99": rounded(np.percentile(means, 99, axis=0), 2),
        "code_min": rounded(means.min(axis=0), 2),
        "code_max": rounded(means.max(axis=0), 2),
        "mean_posterior_std": rounded(np.exp(0.5 * log_variances).mean(axis=0), 3),
        "prior_share_where_q_is_thin": round(float(np.mean(at_prior < thin)), 3),
        # latent arithmetic needs classes that sit apart: the mean code of each class
        "class_mean_codes": {
            name: rounded(means[data.labels == index].mean(axis=0), 2)
            for index, name in enumerate(data.classes)
        },
        "colourfulness": {
            "real": round(colourfulness(shown), 3),
            "reconstructions": round(colourfulness(answer.reconstruct(networks, shown)), 3),
            "prior_samples": round(colourfulness(answer.sample(networks, 1000, seed=1)), 3),
        },
        "hues": {
            "real": hue_shares(shown),
            "reconstructions": hue_shares(answer.reconstruct(networks, shown)),
            "prior_samples": hue_shares(answer.sample(networks, 1000, seed=1)),
        },
    }
    print(json.dumps(result, indent=1))
    if args.picture:
        count = 13
        decoded = answer.decode(networks, latent.lattice(count, args.limit, means.shape[1]))
        title = f"vae · pytorch: decoded lattice over [-{args.limit:g}, {args.limit:g}]²"
        latent.save_figure(latent.lattice_figure(decoded, count, args.limit, title), args.picture)
        print(f"wrote {args.picture}")


if __name__ == "__main__":
    main()
