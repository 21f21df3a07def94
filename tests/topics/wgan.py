"""What the harness checks for the WGAN (questions/wgan.md)."""

import numpy as np

LOSSES = ("critic_loss", "g_loss", "wasserstein")
FALLING = "critic_loss"  # the critic pulls its scores of real and fake apart: from about 0 to well below
FALL_RATIO = 0.8  # measured: first 10 steps -0.009 to -0.011, last 10 -0.063 to -0.095 in the four
# A fifth of the default learning rate, so that the critic's rise spans the 30 steps of n_critic + 1 updates
# while G still moves. Measured with N(0, 0.02) weights: at 1e-4 the critic reached its clipping box
# within 4 steps, so the estimate had risen before the "first 5" it is compared with (TensorFlow:
# 0.15 at step 4, 0.07 at the end); at 3e-5 G's moment ratio (G_RATIO 0.9) was 0.76-0.78, at 4e-5 0.70-0.75.
TINY = dict(image_size=16, dataset_size=16, batch_size=16, steps=30, lr=4e-5, diversity_every=10)
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
