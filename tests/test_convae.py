"""Checks of the Convolutional Auto Encoder beyond the generic harness (issue 3): the transposed
convolutions bring every size divisible by 4 back to the input's shape, and other sizes are refused."""

import dataclasses

import numpy as np
import pytest
from harness import answer_code

import gendojo

TOPIC = "convae"


@pytest.mark.parametrize("size", [8, 12, 20])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shape_is_input_shape(answer, size, channels):
    config = dataclasses.replace(answer.Config(), image_size=size, channels=channels, quiet=True)
    images = np.random.default_rng(size).uniform(-1, 1, (2, size, size, channels)).astype(np.float32)
    with answer_code(f"build and reconstruct at {size}×{size}×{channels}", 60):
        output = np.asarray(answer.reconstruct(answer.build(config), images))
    assert output.shape == images.shape, f"reconstruct turned {images.shape} into {output.shape}"
    assert output.dtype == np.float32 and output.min() >= -1 and output.max() <= 1


@pytest.mark.parametrize("size", [18, 30])
def test_size_not_divisible_by_four_is_refused(answer, size):
    config = dataclasses.replace(answer.Config(), image_size=size)
    with pytest.raises(gendojo.GenDojoError) as error:
        answer.build(config)
    assert str(size) in str(error.value) and "4" in str(error.value), f"unclear message: {error.value}"
