"""What the GAN sheets' "What goes wrong" tables show, measured on the dense GAN (PyTorch answer).

Each case trains the GAN answer (simple-shapes, 16 × 16) for ``--steps`` steps with one thing
changed, and reports the final losses, diversity and the quality score of 1000 samples:

- ``baseline``: the answer as it is;
- ``minimax``: G minimises log(1 − D(G(z))) (the saturating loss) instead of −log D(G(z));
- ``lr 2e-3``: ten times the learning rate for both networks;
- ``data in [0, 1]``: the images scaled to [0, 1] while G still ends in tanh (range [-1, 1]);
  scored after mapping G's output back with 2x − 1, and with the share of G's pixels below 0.

Two more need no training: ``no detach`` shows the error PyTorch raises when D's update runs
back into G's graph, and ``--picture`` writes what an NHWC batch looks like when it is made NCHW
with ``reshape`` instead of ``permute`` (the classic layout mix-up). Not part of the test run:

    python benchmarks/gan_pitfalls.py --steps 1000
    python benchmarks/gan_pitfalls.py --picture assets/gan/gan_layout_mixup.png --cases
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gendojo  # noqa: E402
from gendojo import gan_metrics, quality  # noqa: E402
from gendojo.data import Dataset  # noqa: E402


def load_answer():
    import importlib.util

    path = ROOT / "answers" / "gan" / "gan_pytorch.py"
    spec = importlib.util.spec_from_file_location("gan_pytorch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(case, steps):
    answer = load_answer()
    import torch

    config = answer.Config(steps=steps, quiet=True, lr=2e-3 if case == "lr 2e-3" else 2e-4)
    data = gendojo.load_dataset(config)
    shift = case == "data in [0, 1]"
    if shift:  # G still ends in tanh: its range is [-1, 1], the data's now [0, 1]
        data = Dataset((data.images + 1) / 2, data.labels, data.classes)
    if case == "minimax":  # G minimises log(1 − σ(a)) = −softplus(a): flat where D rejects fakes
        answer.generator_loss = lambda fake_logits: -torch.nn.functional.softplus(fake_logits).mean()
    started = time.perf_counter()
    networks, history = answer.train(config, data)
    seconds = time.perf_counter() - started
    fixed = np.random.default_rng(config.seed).standard_normal((64, config.latent_dim), dtype=np.float32)
    samples = answer.generate(networks, fixed)
    result = {
        "case": case,
        "steps": steps,
        "seconds": round(seconds, 1),
        "d_loss_last100": round(float(np.mean(history["d_loss"][-100:])), 3),
        "g_loss_last100": round(float(np.mean(history["g_loss"][-100:])), 3),
        "g_loss_first50": round(float(np.mean(history["g_loss"][:50])), 3),
        "diversity": round(float(gan_metrics.diversity(samples)), 3),
    }
    if shift:
        result["share_of_G_pixels_below_0"] = round(float(np.mean(samples < 0)), 3)
        data = Dataset(data.images * 2 - 1, data.labels, data.classes)  # score on the usual scale

        def generate(z):
            return np.clip(answer.generate(networks, z) * 2 - 1, -1, 1)
    else:

        def generate(z):
            return answer.generate(networks, z)

    score = quality.score_generator(data, config, generate)
    result |= {"fd": round(score["fd"], 1), "fd_real": round(score["fd_real"], 2)}
    result["coverage"] = round(score["coverage"], 2)
    return result


def no_detach_error():
    """What PyTorch says when D's loss is back-propagated through G's graph, then G's is."""
    import torch

    generator, discriminator = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    fakes = generator(torch.randn(4, 2))
    discriminator(fakes).mean().backward()  # D's update without fakes.detach()
    try:
        (-discriminator(fakes).mean()).backward()  # G's update through the same fakes
    except RuntimeError as error:
        return str(error).splitlines()[0]
    return "no error"


def layout_picture(path):
    """Rows: eight real images; the same batch made NCHW with reshape (wrong) and shown again."""
    config = load_answer().Config(dataset_size=8)
    images = gendojo.load_dataset(config).images[:8]  # NHWC
    n, h, w, c = images.shape
    wrong = images.reshape(n, c, h, w)  # the bug: the numbers stay in NHWC order
    seen = wrong.transpose(0, 2, 3, 1)  # what a correct NCHW → NHWC conversion then shows
    gendojo.save_grid([images, seen], path, scale=8)
    print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument(
        "--cases",
        nargs="*",
        default=["baseline", "minimax", "lr 2e-3", "data in [0, 1]"],
        help="none: no training",
    )
    parser.add_argument("--picture", default="", help="write the layout mix-up picture here")
    args = parser.parse_args(argv)
    if args.picture:
        layout_picture(args.picture)
    print(json.dumps({"no detach": no_detach_error()}))
    for case in args.cases:
        print(json.dumps(run(case, args.steps)), flush=True)


if __name__ == "__main__":
    main()
