"""What the harness checks for the Conditional GAN (questions/cgan.md)."""

import numpy as np

LOSSES = ("d_loss", "g_loss")
FALLING = "d_loss"  # D learns to tell the tiny subset from G's early samples
FALL_RATIO = 0.8  # measured 0.48-0.61 in the four (one batch of 24 images, which D learns by heart)
FALL_WINDOW = "lowest"  # D's lowest 10-step average: it rises again as G catches up (harness.check_falls)
# One tiny run serves every cGAN check, the label check included: 4 images of each class in one
# batch of 24, at 16 × 16. lr 1e-3, not 2e-3 (the former tiny run's): at 2e-3 whether G had started to
# use its label after 100 steps depended on the seed (label score 0.04-0.88 over seeds 0-2 in the
# four frameworks), at 1e-3 it had in all twelve runs (0.57-0.97; see tests/test_cgan.py).
TINY = dict(image_size=16, dataset_size=24, batch_size=24, steps=100, lr=1e-3)
CLI_ARGS = ("--class", "2")
OUTPUTS = ("samples.png", "losses.png", "history.json")
# history.json["quality"] of the command-line run must hold these (gendojo/quality.py)
QUALITY = ("fd", "fd_real", "coverage", "classifier_accuracy", "label_accuracy")


def inference_checks(answer, networks, config, data):
    """(label, array, expected shape, value range) for each inference function of the topic."""
    latents = np.random.default_rng(0).standard_normal((5, config.latent_dim)).astype(np.float32)
    labels = np.arange(5) % config.num_classes
    shape = (5, config.image_size, config.image_size, config.channels)
    yield (
        "generate(networks, latents, labels)",
        answer.generate(networks, latents, labels),
        shape,
        (-1.0, 1.0),
    )
    images = data.images[:5]
    yield (
        "discriminate(networks, images, labels)",
        answer.discriminate(networks, images, labels),
        (5, 1),
        None,
    )
