"""Checks for the GAN and the DCGAN (questions/gan.md, dcgan.md); test_cgan.py reuses them.

On the tiny subset, in every framework: D learns to tell real from fake, G's samples move towards
the data, both networks' weights change (the check that catches a Keras D frozen for good), and
the history reports the sample diversity that warns of mode collapse.
"""

import numpy as np
import pytest
from harness import AnswerProblem, answer_code, check_falls, topic_spec, train_tiny

from gendojo import gan_metrics

TOPICS = ("gan", "dcgan")  # the cGAN has its own module, test_cgan.py
G_RATIO = (
    0.9  # G's moment distance to the data must end below this × its value at step 0 (measured 0.55-0.83)
)
# D's mean logit on the real images minus on G's step-0 samples after the tiny run, measured in the
# four frameworks, seeds 0-1, 1 and 2 threads: GAN 3.9-5.8, DCGAN 1.6-9.8, cGAN (32 px, 40 steps)
# 2.4-10.6 (seeds 0-2, one thread); below 0.003 for an untrained D
D_MARGIN = 0.3
# The cGAN's D check runs at 32 px: at the 16 px of its shared tiny run, D's last BatchNorm sees
# 1 x 1 maps and D barely tells the halves apart (margin -0.7 to 0.5 after 100 steps; the label
# check keeps 16 px, where G obeys its label on every seed: tests/topics/cgan.py). And for 40
# steps, while D still wins: by step 100 G has left its first samples far behind and D may have
# forgotten them (PyTorch seed 0 on an Intel Xeon: margin -0.39 at 100 steps, 0.82 at 50, 6.2 at 40)
D_RUN = {"cgan": dict(image_size=32, steps=40)}
# The MLP generator needs a faster, longer tiny run to move its pixel statistics (the cGAN's
# generator check is its own, in test_cgan.py, on the topic's one tiny run).
G_RUN = {"gan": dict(lr=2e-3, steps=120)}


def _conditional(answer):
    return answer.REF.topic == "cgan"


def _samples(answer, networks, config, count=64, labels=None):
    latents = np.random.default_rng(1234).standard_normal((count, config.latent_dim)).astype(np.float32)
    if _conditional(answer):
        labels = np.arange(count) % config.num_classes if labels is None else labels
        return answer.generate(networks, latents, labels)
    return answer.generate(networks, latents)


def _run(answer, **overrides):
    try:
        return train_tiny(answer, answer.REF.topic, **overrides)
    except AnswerProblem as error:
        pytest.fail(str(error), pytrace=False)


def _fresh(answer, run):
    """The networks as ``build`` makes them: the same seed gives the run's starting point."""
    with answer_code("build(config)"):
        return answer.build(run.config)


def weights(answer, network):
    """Each trainable tensor of a network as a NumPy array, in the network's order (BatchNorm's
    running statistics left out; Keras' frozen tensors kept, so a D frozen for good shows),
    read in the answer's process (``gendojo.sandbox_worker``)."""
    with answer_code("reading the network's weights", 60):
        return answer.kit.weights(network)


def check_discriminator_learns(answer):
    """D's loss falls (its lowest 10-step average, see ``harness.check_falls``), and after training
    D scores real images above the samples of G at step 0, which D learned to reject, by at least
    ``D_MARGIN`` logits.

    Not "above G's last samples": who is ahead at the last step of a tiny game depends on the
    rounding of the machine (the same DCGAN run with 1 or 2 threads: real -2.16 vs fake -0.87, or
    -0.86 vs -1.34), while D's verdict on G's first samples is stable."""
    run = _run(answer, **D_RUN.get(answer.REF.topic, {}))
    spec = topic_spec(answer.REF.topic)
    check_falls(run.history["d_loss"], "D's loss", spec.FALL_RATIO, spec.FALL_WINDOW)
    fakes = _samples(answer, _fresh(answer, run), run.config, count=len(run.data.images))
    if _conditional(answer):
        labels = run.data.labels
        real = answer.discriminate(run.networks, run.data.images, labels)
        fake = answer.discriminate(run.networks, fakes, labels % run.config.num_classes)
    else:
        real, fake = (
            answer.discriminate(run.networks, run.data.images),
            answer.discriminate(run.networks, fakes),
        )
    margin = np.mean(real) - np.mean(fake)
    assert margin >= D_MARGIN, (
        f"after training D does not tell real images from G's samples at step 0: mean logit "
        f"{np.mean(real):.3f} (real) vs {np.mean(fake):.3f} (fake), needed {D_MARGIN} apart"
    )


def check_generator_learns(answer):
    """G's samples from a fixed noise move towards the data's per-pixel mean and spread."""
    run = _run(answer, **G_RUN.get(answer.REF.topic, {}))
    before = gan_metrics.moment_distance(_samples(answer, _fresh(answer, run), run.config), run.data.images)
    after = gan_metrics.moment_distance(_samples(answer, run.networks, run.config), run.data.images)
    assert after < G_RATIO * before, (
        f"G's samples did not move towards the data: moment distance {before:.3f} at step 0, "
        f"{after:.3f} after {run.config.steps} steps (needed below {G_RATIO} × the start)"
    )


def check_both_networks_change(answer):
    """Every trainable tensor of G and of D differs from its value at step 0."""
    run = _run(answer)
    start = _fresh(answer, run)
    for name in ("generator", "discriminator"):
        assert name in run.networks, f"the networks dict has no {name!r} (it has {sorted(run.networks)})"
        old, new = weights(answer, start[name]), weights(answer, run.networks[name])
        assert [w.shape for w in old] == [w.shape for w in new], f"the {name} is not the one build() makes"
        frozen = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if np.array_equal(a, b)]
        assert not frozen, (
            f"training left {len(frozen)} of the {name}'s {len(old)} weight tensors unchanged "
            f"(e.g. number {frozen[0]}): is it frozen, or missing from its optimizer?"
        )


def check_diversity_reported(answer):
    """history['diversity']: one finite, non-negative value per step, measured more than once."""
    run = _run(answer)
    assert "diversity" in run.history, f"history has no 'diversity' (it has {sorted(run.history)})"
    values = np.asarray(run.history["diversity"], dtype=np.float64)
    assert values.shape == (run.config.steps,), f"history['diversity'] has shape {values.shape}"
    assert np.all(np.isfinite(values)) and np.all(values >= 0), "history['diversity'] has bad values"
    assert len(np.unique(values)) > 1, "history['diversity'] never changes: is it measured during training?"


def test_discriminator_learns(answer):
    check_discriminator_learns(answer)


def test_generator_learns(answer):
    check_generator_learns(answer)


def test_both_networks_change(answer):
    check_both_networks_change(answer)


def test_diversity_reported(answer):
    check_diversity_reported(answer)


def test_gan_metrics():
    """The shared metrics: a collapsed batch has no diversity; a batch is at distance 0 from itself."""
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (16, 8, 8, 3)).astype(np.float32)
    assert gan_metrics.diversity(np.repeat(images[:1], 16, axis=0)) == pytest.approx(0, abs=1e-6)
    assert gan_metrics.diversity(images) > 0.5
    assert gan_metrics.moment_distance(images, images) == pytest.approx(0)
    assert gan_metrics.moment_distance(np.zeros_like(images), images) > 0.5
