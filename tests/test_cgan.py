"""Conditional GAN checks (questions/cgan.md): the GAN family's checks, and G obeys its label.

All of them use the topic's one tiny run (tests/topics/cgan.py: 4 images of each class, 100 steps),
except D's, which runs it at 32 px for 40 steps (test_gan.D_RUN).
"""

import numpy as np
from test_gan import (
    G_RATIO,
    _fresh,
    _run,
    _samples,
    check_both_networks_change,
    check_discriminator_learns,
    check_diversity_reported,
)

from gendojo import gan_metrics

TOPIC = "cgan"
LABEL_SAMPLES = 64  # samples per class, from the same noise vectors in every class
LABEL_SCORE = 0.3  # measured 0.67-0.95 in the four (seed 0); exactly 0 for a G that ignores its label
NO_EFFECT = 0.01  # a label effect below this (RMS per pixel, images in [-1, 1]) counts as none


def test_discriminator_learns(answer):
    check_discriminator_learns(answer)


def test_generator_learns(answer):
    """G's samples move towards the data's per-pixel mean and spread (the GAN family's check)."""
    run = _run(answer)
    before = gan_metrics.moment_distance(_samples(answer, _fresh(answer, run), run.config), run.data.images)
    after = gan_metrics.moment_distance(_samples(answer, run.networks, run.config), run.data.images)
    assert after < G_RATIO * before, (
        f"G's samples did not move towards the data: moment distance {before:.3f} at step 0, "
        f"{after:.3f} after {run.config.steps} steps (needed below {G_RATIO} × the start)"
    )


def test_both_networks_change(answer):
    check_both_networks_change(answer)


def test_diversity_reported(answer):
    check_diversity_reported(answer)


def effects(images, labels, classes):
    """What each class changes in the average image: per-class mean brightness minus the mean of
    those, as (classes, pixels). Brightness (the mean over channels), because the shapes' colours
    are random and only their outlines belong to the class."""
    means = np.stack([images[labels == k].mean(axis=(0, 3)).ravel() for k in range(classes)])
    return means - means.mean(axis=0)


def label_score(samples_effects, real_effects):
    """Mean cosine similarity of each class's label effect with its own class's effect in the real
    images, minus the mean with the other classes'. A label effect smaller than NO_EFFECT is not
    stretched to unit length, so its similarities shrink with it: a G that ignores its label scores
    0, and rounding noise in its samples cannot make it score more."""
    size = samples_effects.shape[1]
    norm_s = np.maximum(np.sqrt((samples_effects**2).sum(axis=1) / size), NO_EFFECT) * np.sqrt(size)
    norm_r = np.linalg.norm(real_effects, axis=1)
    similarity = samples_effects @ real_effects.T / (norm_s[:, None] * norm_r[None, :])
    own = np.eye(len(similarity), dtype=bool)
    score = round(float(similarity[own].mean() - similarity[~own].mean()), 6) + 0.0  # + 0.0: no "-0.000"
    return score, similarity


def test_label_is_obeyed(answer):
    """What the label changes in G's samples is what the class changes in the real images.

    For each class c, 64 samples are drawn with label c from the same 64 noise vectors, so the
    label alone differs between the classes' samples. Averaging them per class and subtracting the
    mean over classes leaves the label's effect; the real images' class effect is computed the same
    way. The label effect for class c must point towards class c's real effect more than towards
    the other classes' (cosine similarity, own minus others, above LABEL_SCORE).
    """
    run = _run(answer)
    config, classes = run.config, run.config.num_classes
    samples = np.concatenate(
        [
            _samples(answer, run.networks, config, count=LABEL_SAMPLES, labels=np.full(LABEL_SAMPLES, c))
            for c in range(classes)
        ]
    )
    labels = np.repeat(np.arange(classes), LABEL_SAMPLES)
    made = effects(samples, labels, classes)
    score, similarity = label_score(made, effects(run.data.images, run.data.labels, classes))
    size = np.sqrt((made**2).mean())
    assert score > LABEL_SCORE, (
        f"G does not draw the class it is asked for: label score {score:.3f}, needed above "
        f"{LABEL_SCORE} (own class {np.diag(similarity).mean():.3f}; the label changes the samples "
        f"by {size:.4f} per pixel, 0 when G ignores it)"
    )
