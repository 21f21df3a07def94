"""Checks of the VAE beyond the generic harness (issue 3): the closed-form KL, the reparameterisation,
the losses of a tiny run, prior samples, and the shared latent-plot helpers."""

import math

import numpy as np
import pytest
from harness import AsTensor, answer_code, train_tiny

import gendojo
from gendojo import latent

TOPIC = "vae"


def kl(answer, mean, log_variance):
    mean, log_variance = np.asarray(mean, np.float32), np.asarray(log_variance, np.float32)
    with answer_code("kl_divergence(mean, log_variance)", 60):
        value = answer.kl_divergence(AsTensor(mean), AsTensor(log_variance))
    value = np.asarray(value)
    assert value.shape in ((), (1,)), (
        f"kl_divergence should return one number for the batch, got shape {value.shape}"
    )
    return float(value.reshape(()))


def closed_form(mean, log_variance):
    """KL(N(mean, exp(log_variance)) ‖ N(0, I)) per example, summed over dimensions, batch mean."""
    mean, log_variance = np.asarray(mean, np.float64), np.asarray(log_variance, np.float64)
    return float(np.mean(np.sum(0.5 * (mean**2 + np.exp(log_variance) - 1 - log_variance), axis=1)))


def test_kl_zero_at_prior(answer):
    """N(0, I) against itself: KL is exactly 0, whatever the batch and latent sizes."""
    for shape in ((1, 2), (5, 3)):
        value = kl(answer, np.zeros(shape), np.zeros(shape))
        assert abs(value) < 1e-5, f"KL of N(0, I) from itself should be 0, got {value} for shape {shape}"


def test_kl_known_value(answer):
    """A hand-worked batch: example 1 has mean (1, 0), log-variance (0, 0): KL = ½·1 = 0.5.
    Example 2 has mean (0, 2), log-variance (ln 2, -1): KL = ½(2 - 1 - ln 2) + ½(4 + e⁻¹ - 1 + 1).
    The batch's value is their mean."""
    mean = [[1.0, 0.0], [0.0, 2.0]]
    log_variance = [[0.0, 0.0], [math.log(2.0), -1.0]]
    second = 0.5 * (2 - 1 - math.log(2.0)) + 0.5 * (4 + math.exp(-1) - 1 + 1)
    expected = (0.5 + second) / 2
    value = kl(answer, mean, log_variance)
    assert abs(value - expected) < 1e-5, (
        f"kl_divergence gives {value:.6f} for the sheet's worked batch, expected {expected:.6f} "
        f"(sum over latent dimensions, mean over the batch)"
    )


def test_kl_closed_form_and_reduction(answer):
    """Random inputs match the closed form to 1e-5; repeating the batch leaves the value unchanged
    (a mean over the batch, not a sum)."""
    rng = np.random.default_rng(7)
    mean = rng.normal(size=(6, 3)).astype(np.float32)
    log_variance = rng.uniform(-2, 1, size=(6, 3)).astype(np.float32)
    value, expected = kl(answer, mean, log_variance), closed_form(mean, log_variance)
    assert abs(value - expected) < 1e-5 * max(1.0, abs(expected)), (
        f"KL {value:.6f}, closed form {expected:.6f}"
    )
    doubled = kl(answer, np.concatenate([mean, mean]), np.concatenate([log_variance, log_variance]))
    assert abs(doubled - value) < 1e-5 * max(1.0, abs(value)), (
        f"KL of the batch repeated twice is {doubled:.6f}, of the batch {value:.6f}: reduce with a mean over the batch"
    )


def test_reparameterize_statistics(answer):
    """z = mean + exp(½·log_variance)·ε: many draws have the given mean and standard deviation."""
    count = 20000
    mean = np.tile(np.array([[1.5, -2.0]], np.float32), (count, 1))
    log_variance = np.tile(np.array([[0.0, math.log(0.25)]], np.float32), (count, 1))
    with answer_code("reparameterize(mean, log_variance)", 60):
        z = np.asarray(answer.reparameterize(AsTensor(mean), AsTensor(log_variance)))
    assert z.shape == mean.shape, f"reparameterize returned shape {z.shape}, expected {mean.shape}"
    assert np.allclose(z.mean(axis=0), [1.5, -2.0], atol=0.05), (
        f"sample means {z.mean(axis=0)}, expected [1.5, -2]"
    )
    assert np.allclose(z.std(axis=0), [1.0, 0.5], atol=0.05), (
        f"sample deviations {z.std(axis=0)}, expected [1, 0.5]"
    )


def test_kl_finite_and_never_negative(answer):
    run = train_tiny(answer, TOPIC)
    values = np.asarray(run.history["kl"], dtype=np.float64)
    assert np.all(np.isfinite(values)), "history['kl'] has NaN or infinite values"
    assert values.min() >= -1e-5, f"history['kl'] goes negative ({values.min():.6f}); a KL divergence cannot"


def test_loss_is_reconstruction_plus_beta_kl(answer):
    run = train_tiny(answer, TOPIC)
    history = {
        name: np.asarray(run.history[name], dtype=np.float64) for name in ("reconstruction", "kl", "loss")
    }
    expected = history["reconstruction"] + run.config.beta * history["kl"]
    assert np.allclose(history["loss"], expected, rtol=1e-4, atol=1e-4), (
        f"loss should be reconstruction + beta·kl; step 0: {history['loss'][0]:.4f} vs {expected[0]:.4f}"
    )


def test_prior_samples(answer):
    """sample(networks, count, seed): the stated shape and range; the same seed gives the same images."""
    run = train_tiny(answer, TOPIC)
    size, channels = run.config.image_size, run.config.channels
    with answer_code("sample(networks, count, seed)", 60):
        first, again, other = (answer.sample(run.networks, 9, seed=s) for s in (3, 3, 4))
    first = np.asarray(first)
    assert first.shape == (9, size, size, channels), f"sample gave shape {first.shape}"
    assert first.dtype == np.float32 and first.min() >= -1 and first.max() <= 1, (
        "samples must be float32 in [-1, 1]"
    )
    assert np.allclose(first, again, atol=1e-5), "two calls with seed 3 gave different images"
    assert not np.allclose(first, other, atol=1e-5), "seeds 3 and 4 gave the same images"


def test_reconstruct_decodes_the_mean(answer):
    run = train_tiny(answer, TOPIC)
    images = run.data.images[:4]
    with answer_code("encode, decode and reconstruct", 60):
        mean, log_variance = answer.encode(run.networks, images)
        direct = answer.decode(run.networks, mean)
        rebuilt = answer.reconstruct(run.networks, images)
    assert np.allclose(direct, rebuilt, atol=1e-5), (
        "reconstruct(images) should equal decode(encode(images)[0])"
    )


@pytest.mark.parametrize("bad", [dict(latent_dim=0), dict(beta=-1.0), dict(latent_dim=1)])
def test_bad_config(answer, bad):
    config = answer.Config(**bad)
    with pytest.raises(gendojo.GenDojoError):
        answer.build(config)


# --- the shared plotting helpers (no framework) ---------------------------------------------------


def test_lattice_layout():
    points = latent.lattice(count=5, limit=2.0, latent_dim=3)
    assert points.shape == (25, 3) and points.dtype == np.float32
    assert np.allclose(points[0, :2], [-2, 2]) and np.allclose(points[4, :2], [2, 2])  # top row: z₂ = +2
    assert np.allclose(points[-1, :2], [2, -2]) and np.all(points[:, 2] == 0)


def test_interpolate_ends():
    path = latent.interpolate([0, 1], [4, -1], count=5)
    assert path.shape == (5, 2)
    assert np.allclose(path[0], [0, 1]) and np.allclose(path[-1], [4, -1]) and np.allclose(path[2], [2, 0])


def test_save_all_writes_three_pictures(tmp_path):
    rng = np.random.default_rng(0)
    data = gendojo.Dataset(
        rng.uniform(-1, 1, (20, 8, 8, 3)).astype(np.float32), np.arange(20) % 3, ("a", "b", "c")
    )
    weights = rng.normal(size=(8 * 8 * 3, 2)).astype(np.float32) / 20

    def encode(images):
        mean = images.reshape(len(images), -1) @ weights
        return mean, np.zeros_like(mean)

    def decode(latents):
        return np.tanh(np.repeat(latents[:, :1, None, None], 8, 1).repeat(8, 2).repeat(3, 3))

    paths = latent.save_all(encode, decode, data, tmp_path, "test", count=4)
    assert [p.name for p in paths] == list(latent.FILES)
    assert all(p.stat().st_size > 1000 for p in paths)
    assert latent.pick_pair(data.labels) == (0, 1)
