"""The built-in dataset: coloured shapes on varied backgrounds, drawn on the fly, no download.

Every image is drawn from its own random stream ``(seed, index)``, so image 7 of seed 0 is the
same picture whether you ask for 10 images or 10,000, at any size from 16 to 128 pixels.

* six labelled classes (``CLASSES``), one shape per image, for the conditional GAN;
* a random two-colour gradient background, a saturated shape colour, a random size, position
  and rotation, and a soft shadow, so a GAN has something to get right and a collapse shows;
* a paired view for pix2pix: ``sources`` holds a colour-coded outline of the same picture (its
  bare background, and the shape's outline drawn in the shape's colour), ``images`` the finished
  picture (filled shape, shading of the shadow). The outline says everything the picture shows,
  so the translation is well posed: one input, one right answer (a black outline alone would
  leave the colours to chance, and G would paint their muddy average).

``shapes(..., simple=True)`` (``--dataset simple-shapes``) draws the same classes upright and
centred on a plain dark ground, varying only colour, size and a small shift: the variety a small
GAN learns in a few CPU minutes.

Shapes are drawn at 4× the asked size and shrunk with area averaging, which anti-aliases them.
"""

import cv2
import numpy as np

CLASSES = ("circle", "square", "triangle", "star", "cross", "ring")
MIN_SIZE, MAX_SIZE = 16, 128
_SUPERSAMPLE = 4


def _polygon(kind):
    """Unit-radius outline of a class, as an (N, 2) array of points around the origin."""
    if kind == "circle":
        angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if kind == "square":
        return np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) * 0.8
    if kind == "triangle":
        angles = np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if kind == "star":
        angles = np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
        return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    if kind == "cross":
        a, b = 0.3, 0.95
        return np.array(
            [[-a, -b], [a, -b], [a, -a], [b, -a], [b, a], [a, a],
             [a, b], [-a, b], [-a, a], [-b, a], [-b, -a], [-a, -a]],
            dtype=np.float64,
        )  # fmt: skip
    raise ValueError(kind)


def _hsv_to_rgb(h, s, v):
    pixel = np.array([[[h * 179, s * 255, v * 255]]], dtype=np.uint8)
    return cv2.cvtColor(pixel, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float64)


def _draw(rng, size, label, simple=False):
    """One (picture, sketch) pair, both uint8 RGB of shape (size, size, 3)."""
    if simple:
        return _draw_simple(rng, size, label)
    big = size * _SUPERSAMPLE
    # Background: a linear gradient between two muted colours at a random angle.
    light = rng.random() < 0.5
    v0, v1 = (rng.uniform(0.55, 0.9), rng.uniform(0.55, 0.9)) if light else rng.uniform(0.1, 0.4, 2)
    c0 = _hsv_to_rgb(rng.random(), rng.uniform(0.1, 0.5), v0)
    c1 = _hsv_to_rgb(rng.random(), rng.uniform(0.1, 0.5), v1)
    angle = rng.uniform(0, 2 * np.pi)

    # The shape: saturated colour, contrasting in brightness with the background.
    value = rng.uniform(0.2, 0.45) if light else rng.uniform(0.8, 1.0)
    colour = _hsv_to_rgb(rng.random(), rng.uniform(0.7, 1.0), value)
    radius = rng.uniform(0.28, 0.42) * big
    centre = rng.uniform(0.38 * big, 0.62 * big, 2)
    rotation = rng.uniform(0, 2 * np.pi)
    alpha, edge = _masks(CLASSES[label], centre, radius, rotation, size)

    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1) - 0.5
    t = np.clip((xs * np.cos(angle) + ys * np.sin(angle)) + 0.5, 0, 1)[..., None]
    picture = ground = (1 - t) * c0 + t * c1  # the sketch keeps the bare ground, without the shadow

    # A soft shadow down and to the right, then the shape itself.
    shift = size / 24
    shadow = cv2.warpAffine(alpha, np.float32([[1, 0, shift], [0, 1, shift]]), (size, size))
    shadow = cv2.GaussianBlur(shadow, (0, 0), size / 40)[..., None] * 0.45
    picture = picture * (1 - shadow)
    picture = picture * (1 - alpha[..., None]) + colour * alpha[..., None]
    return _uint8(picture), _uint8(ground * (1 - edge[..., None]) + colour * edge[..., None])


def _masks(kind, centre, radius, rotation, size):
    """The shape's coverage and its outline's coverage, (size, size) float32 in [0, 1].

    Drawn large and shrunk with area averaging, which anti-aliases them.
    """
    big = size * _SUPERSAMPLE
    mask = np.zeros((big, big), dtype=np.uint8)
    outline = np.zeros_like(mask)
    line = max(1, big // 24)
    if kind == "ring":
        c, r = tuple(int(round(v)) for v in centre), int(round(radius))
        cv2.circle(mask, c, r, 255, -1, cv2.LINE_AA)
        cv2.circle(mask, c, int(round(radius * 0.55)), 0, -1, cv2.LINE_AA)
        cv2.circle(outline, c, r, 255, line, cv2.LINE_AA)
        cv2.circle(outline, c, int(round(radius * 0.55)), 255, line, cv2.LINE_AA)
    else:
        rot = np.array([[np.cos(rotation), -np.sin(rotation)], [np.sin(rotation), np.cos(rotation)]])
        points = (_polygon(kind) @ rot.T * radius + centre).round().astype(np.int32)
        cv2.fillPoly(mask, [points], 255, cv2.LINE_AA)
        cv2.polylines(outline, [points], True, 255, line, cv2.LINE_AA)
    return tuple(
        cv2.resize(m, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        for m in (mask, outline)
    )


def _uint8(picture):
    return np.clip(picture, 0, 255).round().astype(np.uint8)


def _draw_simple(rng, size, label):
    """The ``simple-shapes`` style: one bright shape, upright and centred, on a plain dark ground.

    Only the colour, the size and a small shift vary. This is the variety a small GAN can learn in
    a few CPU minutes; the full style (gradients, shadows, any rotation) takes it much longer.
    """
    big = size * _SUPERSAMPLE
    background = _hsv_to_rgb(rng.random(), rng.uniform(0.2, 0.5), rng.uniform(0.08, 0.2))
    colour = _hsv_to_rgb(rng.random(), rng.uniform(0.6, 1.0), rng.uniform(0.8, 1.0))
    radius = rng.uniform(0.32, 0.4) * big
    centre = rng.uniform(0.46 * big, 0.54 * big, 2)
    alpha, edge = _masks(CLASSES[label], centre, radius, 0.0, size)
    alpha, edge = alpha[..., None], edge[..., None]
    picture = background * (1 - alpha) + colour * alpha
    return _uint8(picture), _uint8(background * (1 - edge) + colour * edge)


def shapes(count, image_size=32, channels=3, seed=0, simple=False):
    """Draw ``count`` labelled shape pictures with their outline sketches.

    Returns ``(images, labels, sketches)``: uint8 arrays of shape (count, H, W, channels),
    int64 labels in ``range(len(CLASSES))`` (balanced: image i has class i mod 6, so any prefix
    of the dataset is as balanced as it can be), and the matching colour-coded outlines.
    """
    if not MIN_SIZE <= image_size <= MAX_SIZE:
        raise ValueError(f"shapes are drawn from {MIN_SIZE} to {MAX_SIZE} pixels, not {image_size}")
    if channels not in (1, 3):
        raise ValueError(f"shapes have 1 (grey) or 3 (RGB) channels, not {channels}")
    images = np.empty((count, image_size, image_size, 3), dtype=np.uint8)
    sketches = np.empty_like(images)
    labels = np.arange(count, dtype=np.int64) % len(CLASSES)
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        images[index], sketches[index] = _draw(rng, image_size, int(labels[index]), simple)
    if channels == 1:
        images = cv2.cvtColor(images.reshape(-1, image_size, 3), cv2.COLOR_RGB2GRAY)
        images = images.reshape(count, image_size, image_size, 1)
        grey = cv2.cvtColor(sketches.reshape(-1, image_size, 3), cv2.COLOR_RGB2GRAY)
        sketches = grey.reshape(count, image_size, image_size, 1)
    return images, labels, sketches
