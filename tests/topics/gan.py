"""What the harness checks for the GAN (questions/gan.md)."""

import numpy as np

LOSSES = ("d_loss", "g_loss")
FALLING = "d_loss"  # D learns to tell the tiny subset from G's early samples
FALL_RATIO = 0.8  # measured: the last 10 steps average about 0.65-0.75 × the first 10 in all four
FALL_WINDOW = "lowest"  # D's lowest 10-step average: it rises again as G catches up (harness.check_falls)
# the full shapes style: on simple-shapes D wins within the first 10 steps, leaving nothing to fall
TINY = dict(dataset="shapes", image_size=16, dataset_size=48, batch_size=16, steps=100)
CLI_ARGS = ()
OUTPUTS = ("samples.png", "losses.png", "history.json")
# history.json["quality"] of the command-line run must hold these (gendojo/quality.py)
QUALITY = ("fd", "fd_real", "coverage", "classifier_accuracy")


def inference_checks(answer, networks, config, data):
    """(label, array, expected shape, value range) for each inference function of the topic."""
    latents = np.random.default_rng(0).standard_normal((5, config.latent_dim)).astype(np.float32)
    shape = (5, config.image_size, config.image_size, config.channels)
    yield "generate(networks, latents)", answer.generate(networks, latents), shape, (-1.0, 1.0)
    yield "discriminate(networks, images)", answer.discriminate(networks, data.images[:5]), (5, 1), None
