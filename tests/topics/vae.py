"""What the harness checks for the Variational Auto Encoder (questions/vae.md)."""

import numpy as np

LOSSES = ("reconstruction", "kl", "loss")
FALLING = "reconstruction"
FALL_RATIO = 0.8  # measured over seeds 0-2: the last 10 steps average 0.33-0.53 × the first 10
TINY = dict(image_size=16, dataset_size=48, batch_size=16, steps=40)
CLI_ARGS = ()  # the latent pictures are on by default: the 2-step run draws them too
OUTPUTS = (
    "samples.png", "losses.png", "history.json",
    "latent_map.png", "latent_lattice.png", "latent_interpolation.png",
)  # fmt: skip


def inference_checks(answer, networks, config, data):
    """(label, array, expected shape, value range) for each inference function of the topic."""
    images = data.images[:5]
    codes = (len(images), config.latent_dim)
    mean, log_variance = answer.encode(networks, images)
    yield "encode(networks, images)[0], the mean", mean, codes, None
    yield "encode(networks, images)[1], the log-variance", log_variance, codes, None
    latents = np.random.default_rng(0).normal(scale=3.0, size=codes).astype(np.float32)
    yield "decode(networks, latents)", answer.decode(networks, latents), images.shape, (-1.0, 1.0)
    yield "reconstruct(networks, images)", answer.reconstruct(networks, images), images.shape, (-1.0, 1.0)
    yield (
        "sample(networks, 7, seed=0)",
        answer.sample(networks, 7, seed=0),
        (7, *images.shape[1:]),
        (-1.0, 1.0),
    )
