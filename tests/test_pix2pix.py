"""Checks of pix2pix beyond the generic harness (issue 5): translations move toward their targets,
the patch map has the sheet's shape and receptive field, both networks train (the Keras
frozen-discriminator trap), and bad sizes or unpaired data are clear errors."""

import dataclasses

import numpy as np
import pytest
from harness import answer_code, tiny_config, tiny_data, train_tiny

import gendojo

TOPIC = "pix2pix"


def weights(answer, network):
    """Every trainable tensor of a network as NumPy arrays, read in the answer's process."""
    with answer_code("reading the network's weights", 60):
        return answer.kit.trainable_weights(network)


def small_config(answer, image_size):
    return dataclasses.replace(answer.Config(), image_size=image_size, g_width=4, d_width=8, quiet=True)


def test_translations_approach_their_targets(answer):
    """After the tiny run, translate(A) is closer to B (mean |·|) than an untrained G's output."""
    run = train_tiny(answer, TOPIC)
    sources, targets = run.data.sources[:16], run.data.images[:16]
    with answer_code("build and translate", 60):
        before = np.abs(answer.translate(answer.build(run.config), sources) - targets).mean()
        after = np.abs(answer.translate(run.networks, sources) - targets).mean()
    assert after < 0.7 * before, (  # measured over seeds 0-3: 0.38-0.46 × in all four
        f"mean |translate(A) - B| went from {before:.3f} (untrained) to {after:.3f} after "
        f"{run.config.steps} steps; expected below 0.7 × the untrained value"
    )


def test_translate_is_deterministic(answer):
    """The sheet's choice: translate runs without dropout, so one sketch gives one picture."""
    run = train_tiny(answer, TOPIC)
    sources = run.data.sources[:4]
    with answer_code("translate twice", 60):
        first, second = answer.translate(run.networks, sources), answer.translate(run.networks, sources)
    assert np.allclose(first, second, atol=1e-6), "translate gave two different pictures for one input"


@pytest.mark.parametrize("image_size", [16, 32])
def test_patch_map_shape(answer, image_size):
    """The sheet's table: an S×S pair gives (S/4)×(S/4) patch logits, one channel."""
    config = small_config(answer, image_size)
    pairs = np.zeros((3, image_size, image_size, config.channels), dtype=np.float32)
    with answer_code(f"build and discriminate at {image_size}×{image_size}", 60):
        logits = np.asarray(answer.discriminate(answer.build(config), pairs, pairs))
    side = image_size // 4
    assert logits.shape == (3, side, side, 1), (
        f"{image_size}×{image_size} pairs gave patch logits of shape {logits.shape}, the sheet says "
        f"(3, {side}, {side}, 1)"
    )


def test_receptive_field(answer):
    """Each logit sees 18×18 pixels: changing one target pixel moves only the logits whose
    window covers it (rows 4i-7 … 4i+10 for logit row i), and does move the one above it."""
    config = small_config(answer, 32)
    rng = np.random.default_rng(0)
    sources = rng.uniform(-1, 1, (1, 32, 32, config.channels)).astype(np.float32)
    targets = rng.uniform(-1, 1, (1, 32, 32, config.channels)).astype(np.float32)
    row, column = 13, 22
    changed = targets.copy()
    changed[0, row, column, :] = -targets[0, row, column, :] + 0.5
    with answer_code("build and discriminate", 60):
        networks = answer.build(config)
        delta = np.abs(
            np.asarray(answer.discriminate(networks, sources, changed))
            - np.asarray(answer.discriminate(networks, sources, targets))
        )[0, :, :, 0]
    moved = delta > 1e-6
    seen = np.array([4 * i - 7 <= row <= 4 * i + 10 for i in range(8)])[:, None] & np.array(
        [4 * j - 7 <= column <= 4 * j + 10 for j in range(8)]
    )
    assert moved[row // 4, column // 4], "the logit over the changed pixel did not move"
    outside = np.argwhere(moved & ~seen)
    assert not len(outside), (
        f"logits {outside.tolist()} moved although pixel ({row}, {column}) is outside their 18×18 window"
    )


def test_both_networks_train(answer):
    """Both G and D change during training (a Keras combined model with D frozen at the wrong
    moment leaves D untouched; a detached G leaves G untouched)."""
    run = train_tiny(answer, TOPIC)
    with answer_code("build(config)", 60):
        initial = answer.build(run.config)  # the same seed: the weights the tiny run started from
    for name in ("generator", "discriminator"):
        start, end = weights(answer, initial[name]), weights(answer, run.networks[name])
        assert len(start) == len(end) and start, f"{name}: trainable tensors differ between two builds"
        moved = sum(not np.array_equal(a, b) for a, b in zip(start, end, strict=True))
        assert moved > len(start) / 2, (
            f"only {moved} of the {name}'s {len(start)} trainable tensors changed during training"
        )


def test_bad_image_size_is_a_clear_error(answer):
    """An image size the U-Net cannot halve depth times stops build with a GenDojoError."""
    config = dataclasses.replace(answer.Config(), image_size=24)  # 24 is not a multiple of 2**4
    with pytest.raises(gendojo.GenDojoError) as error:
        answer.build(config)
    assert "image" in str(error.value).lower(), f"the message does not mention the image size: {error.value}"


def test_unpaired_data_is_a_clear_error(answer):
    """pix2pix needs sources: a data set without them stops train with a GenDojoError."""
    config = tiny_config(answer, TOPIC, steps=1)
    unpaired = gendojo.Dataset(tiny_data(config).images)
    with pytest.raises(gendojo.GenDojoError):
        answer.train(config, unpaired)
