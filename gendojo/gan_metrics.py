"""Numbers that tell how a GAN is doing, computed from images alone (NumPy, any framework).

A GAN's two losses say who is winning the game, not whether the samples are good. These two
measures look at the samples themselves:

* ``diversity(samples)``: how different the samples from a fixed batch of noise are from each
  other. It falls towards 0 when the generator collapses onto a few outputs (mode collapse);
  compare it with ``diversity`` of real images.
* ``moment_distance(samples, images)``: how far the per-pixel mean and standard deviation of the
  samples are from those of real images. A generator that learns moves it towards 0.

Images are NHWC float arrays in [-1, 1], as everywhere in GenDojo.
"""

import numpy as np


def diversity(samples):
    """Mean distance between two different samples, as a root-mean-square difference per pixel."""
    x = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    if len(x) < 2:
        raise ValueError("diversity needs at least two samples")
    squared = np.sum(x**2, axis=1)
    # |a - b|² = |a|² + |b|² - 2 a·b for every pair at once, without an (N, N, pixels) array
    pairwise = np.maximum(squared[:, None] + squared[None, :] - 2 * x @ x.T, 0.0)
    distances = np.sqrt(pairwise / x.shape[1])
    n = len(x)
    return float(distances.sum() / (n * (n - 1)))  # the diagonal is zero: mean over pairs i ≠ j


def moment_distance(samples, images):
    """Mean absolute gap between per-pixel means plus that between per-pixel standard deviations."""
    a = np.asarray(samples, dtype=np.float64)
    b = np.asarray(images, dtype=np.float64)
    mean_gap = np.abs(a.mean(axis=0) - b.mean(axis=0)).mean()
    std_gap = np.abs(a.std(axis=0) - b.std(axis=0)).mean()
    return float(mean_gap + std_gap)
