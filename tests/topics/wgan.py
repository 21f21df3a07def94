"""What the harness checks for the WGAN (questions/wgan.md)."""

import numpy as np

LOSSES = ("critic_loss", "g_loss", "wasserstein")
FALLING = "critic_loss"  # the critic pulls its scores of real and fake apart: from about 0 to well below
FALL_RATIO = 0.8  # measured: first 10 steps about -0.01, last 10 between -0.78 and -1.75 in the four
# Twice the default learning rate, so that both networks move within 30 steps of 5 + 1 updates
# (measured: at 1e-3 the estimate peaks and falls within the run; at 2e-4 Chainer's G moved too little).
TINY = dict(image_size=16, dataset_size=16, batch_size=16, steps=30, lr=1e-4, diversity_every=10)
CLI_ARGS = ()
OUTPUTS = ("samples.png", "losses.png", "history.json")
# history.json["quality"] of the command-line run must hold these (gendojo/quality.py)
QUALITY = ("fd", "fd_real", "coverage", "classifier_accuracy")


def inference_checks(answer, networks, config, data):
    """(label, array, expected shape, value range) for each inference function of the topic."""
    latents = np.random.default_rng(0).standard_normal((5, config.latent_dim)).astype(np.float32)
    shape = (5, config.image_size, config.image_size, config.channels)
    yield "generate(networks, latents)", answer.generate(networks, latents), shape, (-1.0, 1.0)
    yield "critique(networks, images)", answer.critique(networks, data.images[:5]), (5, 1), None
