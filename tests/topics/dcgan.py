"""What the harness checks for the DCGAN (questions/dcgan.md)."""

import numpy as np

LOSSES = ("d_loss", "g_loss")
FALLING = "d_loss"  # D learns to tell the tiny subset from G's early samples
# measured 0.40-0.81 in the four (one batch of 16 images, which D learns by heart): D's BatchNorm,
# in training mode on each half alone, hides part of what tells the halves apart
FALL_RATIO = 0.9
FALL_WINDOW = "lowest"  # D's lowest 10-step average: it rises again as G catches up (harness.check_falls)
# faster than the default, so that both networks move within 100 steps. 32 x 32 as the default: at
# 16 x 16 D's last BatchNorm normalises a 1 x 1 map over the batch alone, which leaves D little to
# tell real from fake batches by, and G's samples did not move towards the data.
TINY = dict(image_size=32, dataset_size=16, batch_size=16, steps=100, lr=2e-3)
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
