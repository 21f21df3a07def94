"""Learning, measured by the grader on its own data, never taken from the answer's word.

The history ``train`` returns is the answer's claim about itself: ``test_answers.test_loss_falls``
reads it for information only (0 points by default). These checks instead draw images the
training never saw (another seed of the built-in data) and noise of the grader's own, call the
answer's inference functions before training (``build``) and after (``train``), and compute the
numbers here. A ``train`` that returns untrained networks with a made-up history, a ``reconstruct``
that returns its input, a generator that ignores its noise or leaves [-1, 1], a VAE that never
samples or never optimises its KL: each fails with the number that gives it away.

Thresholds come from measured spreads: ``benchmarks/results/grading_margins.md``.
"""

import dataclasses

import numpy as np
import pytest
from harness import answer_code, stop_if_hung, tiny_config, tiny_data, train_tiny

import gendojo

TOPIC_NAMES = ("ae", "convae", "vae", "gan", "dcgan", "cgan", "wgan", "pix2pix")
RECONSTRUCTING = ("ae", "convae", "vae")
GENERATING = ("gan", "dcgan", "cgan", "wgan")
HELD_OUT = 64  # images the training never saw
LATENTS = 500  # the grader's own noise vectors
SEED = 9173  # the grader's noise: no answer can guess it from its own seed

# after / before training, on held-out images; the reference answers reach (measured, see the
# margins table) ae 0.27-0.36, convae 0.39-0.63, vae 0.40-0.52, pix2pix 0.55-0.70
LEARNED_RATIO = {"ae": 0.7, "convae": 0.85, "vae": 0.75, "pix2pix": 0.75}
# VAE: mean log-variance of the codes after the tiny run (reference -4.2 to -2.9; 0.0 when the
# decoder is trained on the mean instead of a sample), and KL at beta 20 / KL at beta 1
# (reference 0.20-0.30; 1.0 when beta·KL is not in the optimised loss)
LOG_VARIANCE_BELOW = -1.0
KL_RATIO = 0.6
VAE_PROBE_BETA = 20.0


def held_out(config, count=HELD_OUT):
    """Images (and sources, labels) of the same kind as the training data, from another seed."""
    other = dataclasses.replace(config, seed=config.seed + 1000, dataset_size=count)
    return gendojo.load_dataset(other)


def mse(a, b):
    return float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))


def _fresh(answer, config):
    with answer_code("build(config)", 60):
        return answer.build(config)


@pytest.mark.topics(*RECONSTRUCTING, "pix2pix")
def test_learns_on_unseen_images(answer):
    """Reconstructions (AE, ConvAE, VAE) or translations (pix2pix) of images the training never
    saw are closer to their targets after ``train`` than with the networks ``build`` makes."""
    topic = answer.REF.topic
    run = train_tiny(answer, topic)
    test = held_out(run.config)
    fresh = _fresh(answer, run.config)
    if topic == "pix2pix":
        what, inputs, targets = "translate(networks, sources)", test.sources, test.images
        with answer_code(what, 60):
            before, after = (answer.translate(n, inputs) for n in (fresh, run.networks))
        error = lambda output: float(np.mean(np.abs(np.asarray(output) - targets)))  # noqa: E731
        measure = "mean absolute error"
    else:
        what, inputs, targets = "reconstruct(networks, images)", test.images, test.images
        with answer_code(what, 60):
            before, after = (answer.reconstruct(n, inputs) for n in (fresh, run.networks))
        error = lambda output: mse(output, targets)  # noqa: E731
        measure = "mean squared error"
    for output in (before, after):
        output = np.asarray(output)
        assert output.shape == targets.shape, (
            f"{what} returned shape {output.shape} for {len(inputs)} images of shape {targets.shape[1:]}"
        )
        assert not np.allclose(output, inputs, atol=1e-4), (
            f"{what} returns its input unchanged: the images must go through the networks"
        )
    ratio = LEARNED_RATIO[topic]
    claimed = {name: values[-1] for name, values in run.history.items() if values}
    assert error(after) < ratio * error(before), (
        f"on {len(inputs)} images the training never saw, {what} did not improve: {measure} "
        f"{error(before):.4f} with the networks build() makes, {error(after):.4f} after train() "
        f"(needed below {ratio} × before). train() reported {claimed}; the grader measures for itself"
    )


def encoded(answer, networks, images):
    with answer_code("encode(networks, images)", 60):
        mean, log_variance = answer.encode(networks, images)
    return np.asarray(mean, np.float64), np.asarray(log_variance, np.float64)


def kl_from_prior(mean, log_variance):
    """KL(N(mean, exp(log_variance)) ‖ N(0, I)) per image, averaged: computed here, not by the answer."""
    return float(np.mean(np.sum(0.5 * (mean**2 + np.exp(log_variance) - 1 - log_variance), axis=1)))


@pytest.mark.topics("vae")
def test_vae_decoder_sees_samples(answer):
    """Training decodes z = mean + σ·ε: the encoder's variance matters, so it shrinks below the
    prior's (log-variance 0). Decoding the mean leaves σ nothing to learn from but the KL, which
    pulls the log-variance to exactly 0."""
    run = train_tiny(answer, "vae")
    _, log_variance = encoded(answer, run.networks, held_out(run.config).images)
    assert log_variance.mean() < LOG_VARIANCE_BELOW, (
        f"after training, the codes' mean log-variance on unseen images is {log_variance.mean():.3f} "
        f"(needed below {LOG_VARIANCE_BELOW}): does the decoder get reparameterize(mean, log_variance) "
        f"during training, or the mean?"
    )


@pytest.mark.topics("vae")
def test_vae_kl_is_optimised(answer):
    """With beta 20 the KL term dominates the loss, so the codes move towards the prior: their KL
    (computed here from ``encode`` on unseen images) falls well below the beta-1 run's. A KL that is
    only logged, not optimised, does not care about beta."""
    plain = train_tiny(answer, "vae")
    heavy = train_tiny(answer, "vae", beta=VAE_PROBE_BETA)
    images = held_out(plain.config).images
    kl_plain = kl_from_prior(*encoded(answer, plain.networks, images))
    kl_heavy = kl_from_prior(*encoded(answer, heavy.networks, images))
    assert kl_heavy < KL_RATIO * kl_plain, (
        f"the codes' KL from the prior on unseen images is {kl_heavy:.3f} after training with beta "
        f"{VAE_PROBE_BETA:g} and {kl_plain:.3f} with beta 1 (needed below {KL_RATIO} × the latter): "
        f"is beta·KL part of the loss that is optimised, not only of the history?"
    )


_samples = {}


def samples(answer, networks, config, count=LATENTS):
    """G's images for the grader's noise (cached per answer and networks: two checks read them)."""
    try:
        key = (answer.__name__, tuple(sorted(networks.items())), count)
        hash(key)
    except (AttributeError, TypeError):  # not a dict of handles: no cache
        return _generate(answer, networks, config, count)
    if key not in _samples:
        _samples.clear()  # one answer at a time
        _samples[key] = _generate(answer, networks, config, count)
    return _samples[key]


def _generate(answer, networks, config, count):
    latents = np.random.default_rng(SEED).standard_normal((count, config.latent_dim)).astype(np.float32)
    with answer_code(f"generate(networks, {count} latents)", 120):
        if answer.REF.topic == "cgan":
            return np.asarray(answer.generate(networks, latents, np.arange(count) % config.num_classes))
        return np.asarray(answer.generate(networks, latents))


@pytest.mark.topics(*GENERATING)
def test_samples_in_range_and_driven_by_noise(answer):
    """On the grader's 500 noise vectors, after training: every pixel in [-1, 1], and different
    noise gives different images (with the networks build() makes, too)."""
    topic = answer.REF.topic
    config = tiny_config(answer, topic)
    fresh = samples(answer, _fresh(answer, config), config, count=64)  # before training: cheap to fail
    check_noise_matters(fresh, "as build() makes it")
    run = train_tiny(answer, topic)
    after = samples(answer, run.networks, run.config)
    outside = np.sum((after < -1 - 1e-6) | (after > 1 + 1e-6), axis=(1, 2, 3)) > 0
    assert not outside.any(), (
        f"{outside.sum()} of {len(after)} samples leave [-1, 1] (from {after.min():.3f} to "
        f"{after.max():.3f}): the generator's last layer needs a tanh"
    )
    check_noise_matters(after, "after training")


def check_noise_matters(images, when):
    spread = float(images.std(axis=0).mean())
    assert spread > 1e-4, (
        f"every noise vector gives the same image {when} (per-pixel spread {spread:.2g} over "
        f"{len(images)} latents): the generator ignores its noise"
    )


@pytest.mark.topics(*GENERATING)
def test_samples_are_not_copies(answer):
    """Samples are not training images handed back: most of 500 lie farther from their nearest
    training image than two real images of the data set lie from each other's nearest."""
    topic = answer.REF.topic
    run = train_tiny(answer, topic)
    made = samples(answer, run.networks, run.config).reshape(LATENTS, -1)
    train = run.data.images.reshape(len(run.data.images), -1).astype(np.float32)
    nearest = np.sqrt(((made[:, None, :] - train[None, :, :]) ** 2).mean(axis=2)).min(axis=1)
    copies = float(np.mean(nearest < 0.02))
    assert copies < 0.5, (
        f"{copies:.0%} of the samples are copies of training images (root mean squared difference "
        f"below 0.02 to one of them): a generator must make images, not return stored ones"
    )


@pytest.mark.heavy  # one more training run per answer: graded always, on the references in CI's e2e
@pytest.mark.topics("gan", "dcgan", "cgan", "wgan", "pix2pix")
def test_d_update_leaves_g_alone(answer):
    """One training step in which the grader gives G's own optimizer learning rate 0: G's weights
    must not move, while D's do. What moves G then is D's update: D's optimizer holding G's
    variables too, or D's loss flowing into G's weights."""
    topic = answer.REF.topic
    stop_if_hung(answer)
    config = tiny_config(answer, topic, steps=1)
    with answer_code("train(config, data) for 1 step, G's learning rate set to 0", answer=answer):
        before, after = answer.kit.frozen_step(config, tiny_data(config), "generator")
    d_name = "critic" if topic == "wgan" else "discriminator"

    def change(name):
        pairs = zip(before[name], after[name], strict=True)
        return max((float(np.abs(np.asarray(b) - np.asarray(a)).max()) for a, b in pairs), default=0.0)

    assert change(d_name) > 0, f"the {d_name} did not change in one training step"
    moved = change("generator")
    assert moved == 0, (
        f"G's weights moved (by up to {moved:.2g}) in a step where G's own optimizer had learning "
        f"rate 0: the {d_name}'s update reaches G. Its optimizer must hold the {d_name}'s "
        f"variables only, and its loss must not flow into G (detach the fakes for that update)"
    )


def inference_calls(answer, run, count):
    """(label, function of index array → output) for each deterministic inference function."""
    topic, config = answer.REF.topic, run.config
    images = held_out(config, count)
    latent_dim = getattr(config, "latent_dim", 1)
    latents = np.random.default_rng(SEED).standard_normal((count, latent_dim)).astype(np.float32)
    labels = np.arange(count) % getattr(config, "num_classes", 1)
    nets = run.networks
    calls = {
        "ae": {"reconstruct": lambda i: answer.reconstruct(nets, images.images[i])},
        "convae": {"reconstruct": lambda i: answer.reconstruct(nets, images.images[i])},
        "vae": {
            "encode": lambda i: np.concatenate(answer.encode(nets, images.images[i]), axis=1),
            "decode": lambda i: answer.decode(nets, latents[i]),
            "reconstruct": lambda i: answer.reconstruct(nets, images.images[i]),
        },
        "gan": {
            "generate": lambda i: answer.generate(nets, latents[i]),
            "discriminate": lambda i: answer.discriminate(nets, images.images[i]),
        },
        "cgan": {
            "generate": lambda i: answer.generate(nets, latents[i], labels[i]),
            "discriminate": lambda i: answer.discriminate(nets, images.images[i], labels[i]),
        },
        "wgan": {
            "generate": lambda i: answer.generate(nets, latents[i]),
            "critique": lambda i: answer.critique(nets, images.images[i]),
        },
        "pix2pix": {
            "translate": lambda i: answer.translate(nets, images.sources[i]),
            "discriminate": lambda i: answer.discriminate(nets, images.sources[i], images.images[i]),
        },
    }
    calls["dcgan"] = calls["gan"]
    return calls[topic]


@pytest.mark.topics(*TOPIC_NAMES)
def test_one_image_alone_as_in_a_batch(answer):
    """Every deterministic inference function gives an image (or latent) alone the same output
    as inside a batch: a network left in training mode (BatchNorm's batch statistics) does not,
    and may crash on one image."""
    run = train_tiny(answer, answer.REF.topic)
    count = 6
    for name, call in inference_calls(answer, run, count).items():
        with answer_code(f"{name} on a batch of {count}", 60):
            batch = np.asarray(call(np.arange(count)))
        for index in (0, 3):
            with answer_code(f"{name} on one image (or latent) alone", 60):
                alone = np.asarray(call(np.array([index])))
            assert alone.shape == batch[index : index + 1].shape, (
                f"{name} of one input gave shape {alone.shape}, inside a batch {batch[index : index + 1].shape}"
            )
            assert np.allclose(alone, batch[index : index + 1], rtol=1e-3, atol=1e-4), (
                f"{name} gives input {index} another output alone than inside a batch of {count} (largest "
                f"difference {np.abs(alone - batch[index : index + 1]).max():.3g}): is a network in training "
                f"mode (BatchNorm's batch statistics, dropout) during inference?"
            )
