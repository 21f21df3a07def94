"""Pictures of a VAE's latent space: the map of encoded images, a decoded lattice, an interpolation.

The answers hand over their own ``encode(images) → (mean, log_variance)`` and
``decode(latents) → images`` as plain functions on NumPy arrays, so this module imports no
framework. Only the first two latent dimensions are drawn; with a larger latent space the others
are held at 0, the prior's mean. Figures use matplotlib's ``Figure`` directly, as outputs.py does.
"""

from pathlib import Path

import numpy as np

from gendojo.outputs import make_grid

FILES = ("latent_map.png", "latent_lattice.png", "latent_interpolation.png")


def encode_means(encode, images, batch_size=512):
    """The latent mean of every image, encoded a batch at a time: (N, latent_dim)."""
    return np.concatenate([encode(images[i : i + batch_size])[0] for i in range(0, len(images), batch_size)])


def lattice(count=12, limit=2.5, latent_dim=2):
    """``count × count`` latent points evenly spaced over [-limit, limit]², row-major.

    Row 0 is the top of the picture, so z₂ falls from row to row (as on a plot's y axis) while z₁
    grows from column to column. Dimensions past the second stay at 0.
    """
    values = np.linspace(-limit, limit, count, dtype=np.float32)
    z2, z1 = np.meshgrid(values[::-1], values, indexing="ij")
    points = np.zeros((count * count, latent_dim), dtype=np.float32)
    points[:, 0], points[:, 1] = z1.ravel(), z2.ravel()
    return points


def interpolate(start, end, count=10):
    """``count`` latent vectors on the straight line from ``start`` to ``end``, both included."""
    weights = np.linspace(0.0, 1.0, count, dtype=np.float32)[:, None]
    return (1 - weights) * np.asarray(start, np.float32)[None] + weights * np.asarray(end, np.float32)[None]


def map_figure(means, labels=None, classes=None, title=""):
    """Scatter of latent means (first two dimensions), one colour per label."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 5.5), dpi=100)
    axes = figure.add_subplot()
    if labels is None:
        axes.scatter(means[:, 0], means[:, 1], s=4, alpha=0.5)
    else:
        for index in np.unique(labels):
            chosen = labels == index
            name = classes[index] if classes is not None else str(index)
            axes.scatter(
                means[chosen, 0], means[chosen, 1], s=4, alpha=0.6, label=name, color=f"C{index % 10}"
            )
        axes.legend(markerscale=3, fontsize=8, loc="best")
    axes.set_xlabel("z₁ (latent mean)")
    axes.set_ylabel("z₂ (latent mean)")
    axes.set_aspect("equal", adjustable="datalim")
    axes.grid(alpha=0.3)
    axes.set_title(title)
    figure.tight_layout()
    return figure


def lattice_figure(images, count, limit, title=""):
    """The images decoded from ``lattice(count, limit)``, tiled, with z values on the axes."""
    from matplotlib.figure import Figure

    rows = [images[r * count : (r + 1) * count] for r in range(count)]
    picture = make_grid(rows, padding=0, scale=1)
    figure = Figure(figsize=(6.5, 6.5), dpi=100)
    axes = figure.add_subplot()
    half = limit / max(count - 1, 1)  # half a cell, so each image is centred on the point it decodes
    axes.imshow(
        picture, interpolation="nearest", extent=(-limit - half, limit + half, -limit - half, limit + half)
    )
    axes.set_xlabel("z₁")
    axes.set_ylabel("z₂")
    axes.set_title(title)
    figure.tight_layout()
    return figure


def interpolation_figure(start_image, decoded, end_image, title=""):
    """One row: a real image, the decoded points between the two codes, the other real image."""
    from matplotlib.figure import Figure

    row = np.concatenate([start_image[None], decoded, end_image[None]])
    picture = make_grid([row], padding=2, scale=1)
    figure = Figure(figsize=(1.0 * len(row), 1.6), dpi=100)
    axes = figure.add_subplot()
    axes.imshow(picture, interpolation="nearest")
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def save_figure(figure, path):
    """Write a matplotlib ``Figure`` to ``path`` (PNG) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def pick_pair(labels):
    """Indices of two images to interpolate between: the first image and the first of another class."""
    if labels is None or len(np.unique(labels)) < 2:
        return 0, 1
    return 0, int(np.flatnonzero(labels != labels[0])[0])


def save_all(encode, decode, data, out, title="", count=12, limit=2.5, steps=10):
    """Write the three latent pictures of ``FILES`` into ``out``; return their paths."""
    out = Path(out)
    means = encode_means(encode, data.images)
    latent_dim = means.shape[1]
    paths = [
        save_figure(map_figure(means, data.labels, data.classes, f"{title}: latent means"), out / FILES[0])
    ]
    decoded = decode(lattice(count, limit, latent_dim))
    paths.append(
        save_figure(lattice_figure(decoded, count, limit, f"{title}: decoded lattice"), out / FILES[1])
    )
    first, second = pick_pair(data.labels)
    between = decode(interpolate(means[first], means[second], steps))
    figure = interpolation_figure(data.images[first], between, data.images[second], f"{title}: interpolation")
    paths.append(save_figure(figure, out / FILES[2]))
    return paths
