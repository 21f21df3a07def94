"""A quality score for generated images: does a batch of samples look like the data? (NumPy only.)

A GAN's losses say who is winning the game, not whether the samples are any good. This module
scores the samples themselves, offline, with a small feature network of its own:

* **The feature network** is a classifier (flatten → 256 ReLU → 64 ReLU → one logit per class),
  trained here in NumPy on one half of the labelled real images. Its 64-unit layer is the feature
  space. It is trained once per set of real images and cached (``<cache>/quality/*.npz``, next to
  the downloads; one file of up to 3 MB for each data set, size, ``--dataset-size`` and, for the
  drawn shapes, ``--seed``), so later runs only pay for the samples' features.
* ``fd``: the Fréchet distance between Gaussians fitted to the features of the samples and of the
  other half of the real images, which the network never saw. 0 for identical statistics; lower
  is better. ``fd_real`` is the same distance between two halves of those real images: about what
  a perfect generator would score, the scale to read ``fd`` against.
* ``coverage``: the share of classes the samples reach. Class *k* counts as reached when the
  share of samples the network puts in *k* is at least half the share of real images it puts
  there (half the uniform share 1/K for a balanced set). Real images: 1.0; a generator collapsed
  onto one class: 1/K.
* ``label_accuracy`` (samples asked for a class, as a conditional GAN's): the share the network
  assigns to the class they were asked for.
* ``classifier_accuracy``: the network's accuracy on the held-out real images: how far to trust
  the rest.
* ``class_ratios``: class name → the samples' share of that class over the real images' share
  (classes the network never predicts on real images are left out): which classes a coverage
  below 1 missed.

A data set without labels (a flat ``folder``, ``paired``) cannot train the network: ``score`` returns
``{"skipped": reason}`` instead. Images are NHWC float arrays in [-1, 1], as everywhere in GenDojo.
"""

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

VERSION = 1  # change whenever the network or its training changes: every cached file is retrained
MAX_IMAGES = 4096  # real images used at most (half to train on, half as the reference)
MAX_SIZE = 32  # larger images are average-pooled to at most this size before the network sees them
HIDDEN, FEATURES = 256, 64
BATCH, LR, WEIGHT_DECAY = 64, 1e-3, 1e-4
WORK = 24000  # epochs × inputs per image: 30 epochs at 16×16×3, 8 at 32×32×3 (about 2 s on a core)
SPLITS = 5  # fd_real: the mean over this many random splits of the reference into two halves
SEED = 1234  # the network's own seed, apart from any run's --seed
ROUGH = 500  # fewer reference images than this: the one-line summary says the numbers are rough
REACHED = 0.5  # a class counts as reached from this share of its real share (coverage)
_WEIGHTS = ("w1", "b1", "w2", "b2", "w3", "b3")

trainings = 0  # how many networks this process trained (the tests check that the cache is used)


def cache_folder(config=None):
    """Where the trained networks are cached: ``quality/`` in the download cache of ``gendojo.data``."""
    data_dir = getattr(config, "data_dir", "") or None
    return Path(data_dir or os.environ.get("GENDOJO_DATA", "datasets/cache")) / "quality"


def score(data, samples, labels=None, config=None, cache_dir=None):
    """Score ``samples`` (NHWC in [-1, 1]) against ``data`` (a ``gendojo.Dataset`` with labels).

    ``labels``: the classes the samples were asked for (a conditional GAN), or None. ``config``
    names the data set for the cache file and gives ``data_dir``; ``cache_dir`` overrides the
    folder. Returns a dict of plain numbers (see the module's docstring), or ``{"skipped": why}``.
    """
    name = getattr(config, "dataset", "data")
    if data.labels is None:
        return {"skipped": f"the {name} data set has no labels to train the feature network on"}
    samples = np.asarray(samples, dtype=np.float32)
    if samples.shape[1:] != data.images.shape[1:]:
        raise ValueError(f"samples of shape {samples.shape[1:]} but real images of {data.images.shape[1:]}")
    if not np.all(np.isfinite(samples)):
        return {"skipped": "the samples contain NaN or infinity: the generator has diverged"}
    net = _network(data, name, Path(cache_dir) if cache_dir else cache_folder(config))
    logits, features = _forward(net, samples)
    predicted = logits.argmax(axis=1)
    shares = np.bincount(predicted, minlength=len(net["real_shares"])) / len(samples)
    real_shares = net["real_shares"]
    seen = real_shares > 0  # a class the network never predicts on real images can't be judged
    result = {
        "fd": frechet_distance(*_gaussian(features), net["mean"], net["cov"]),
        "fd_real": float(net["fd_real"]),
        "coverage": float(np.mean(shares[seen] >= REACHED * real_shares[seen])),
        "class_ratios": {
            name: round(float(s / r), 3)
            for name, s, r in zip(class_names(data, len(shares)), shares, real_shares, strict=True)
            if r > 0
        },
        "classifier_accuracy": float(net["accuracy"]),
        "samples": len(samples),
        "reference_images": int(net["reference"]),
    }
    if labels is not None:
        result["label_accuracy"] = float(np.mean(predicted == np.asarray(labels)))
    return result


def class_names(data, count):
    """The data set's class names, or the class numbers where it has no names for all of them."""
    names = data.classes or ()
    return [str(name) for name in names] if len(names) == count else [str(k) for k in range(count)]


def missed_classes(class_ratios):
    """``class_ratios``' classes under the coverage bar, each with its ratio: ["ring at 0.49"]."""
    return [f"{name} at {ratio:.2f}" for name, ratio in class_ratios.items() if ratio < REACHED]


def score_generator(data, config, generate, num_classes=None, count=1000, batch=100, rng=None):
    """``score`` of ``count`` fresh samples of a generator, made ``batch`` at a time.

    ``generate(latents)``, or ``generate(latents, labels)`` when ``num_classes`` is given (the
    classes are then asked for in turn), is the answer's own inference function. The noise comes
    from ``rng``, by default one seeded with ``seed + 1`` (not the run's stream), the same in every
    framework. ``count``: 1000 samples read a class of a tenth of the data to about ±0.07 of its
    share ratio from the draw alone; the benchmarks score 5000 (benchmarks/real_data.py).
    """
    rng = rng if rng is not None else np.random.default_rng(config.seed + 1)
    noise = rng.standard_normal((count, config.latent_dim), dtype=np.float32)
    chunks = np.split(noise, count // batch)
    if num_classes is None:
        return score(data, np.concatenate([generate(z) for z in chunks]), config=config)
    asked = np.arange(count) % num_classes
    pairs = zip(chunks, np.split(asked, count // batch), strict=True)
    return score(data, np.concatenate([generate(z, y) for z, y in pairs]), asked, config=config)


def describe(result):
    """One line for the terminal."""
    if "skipped" in result:
        return f"quality: skipped ({result['skipped']})"
    line = (
        f"quality: FD {result['fd']:.2f} (real vs real {result['fd_real']:.2f}; lower is better), "
        f"class coverage {result['coverage']:.2f}"
    )
    missed = missed_classes(result.get("class_ratios", {}))
    if missed:
        line += f" (under half their real share: {', '.join(missed)})"
    if "label_accuracy" in result:
        line += f", label accuracy {result['label_accuracy']:.2f}"
    line += f"; feature net {result['classifier_accuracy']:.0%} right on held-out real images"
    if result["reference_images"] < ROUGH:
        line += f"; rough: only {result['reference_images']} reference images"
    return line


def frechet_distance(mean1, cov1, mean2, cov2):
    """|μ1 − μ2|² + tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½) between two Gaussians, with NumPy's eigh alone."""
    mean1, mean2 = np.asarray(mean1, np.float64), np.asarray(mean2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    # tr (Σ1 Σ2)^½ = tr (A Σ2 A)^½ with A = Σ1^½: the same eigenvalues, and A Σ2 A is symmetric
    values, vectors = np.linalg.eigh(cov1)
    root = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = root @ cov2 @ root
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    distance = np.sum((mean1 - mean2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2 * cross
    return float(max(distance, 0.0))


def _gaussian(features):
    features = np.asarray(features, dtype=np.float64)
    if len(features) < 2:
        raise ValueError("a Fréchet distance needs at least two images on each side")
    return features.mean(axis=0), np.cov(features, rowvar=False)


# --- the feature network: train once, cache, reload ------------------------------------------------


def _network(data, name, folder):
    """The trained network and the real images' statistics, from the cache or trained now."""
    images, labels, classes = _real_images(data)
    key = hashlib.sha1()
    for part in (VERSION, MAX_SIZE, HIDDEN, FEATURES, WORK, BATCH, LR, WEIGHT_DECAY, SEED, classes):
        key.update(repr(part).encode())
    key.update(images.tobytes())
    key.update(labels.tobytes())
    key = key.hexdigest()
    size, channels = images.shape[2], images.shape[3]
    path = folder / f"{_safe(name)}-{size}px-{channels}ch-{key[:12]}.npz"
    net = _load(path, key, _inputs(images[:1]).shape[1], classes)
    if net is None:
        print(f"quality: training the feature network on {len(images) // 2} {name} images → {path}")
        net = _train(images, labels, classes)
        _save(path, key, net)
    return net


def _real_images(data):
    """At most MAX_IMAGES labelled real images, a fixed random choice when there are more."""
    images, labels = np.asarray(data.images, dtype=np.float32), np.asarray(data.labels, dtype=np.int64)
    classes = len(data.classes) if data.classes else int(labels.max()) + 1
    if len(images) > MAX_IMAGES:
        chosen = np.sort(np.random.default_rng(SEED).choice(len(images), MAX_IMAGES, replace=False))
        images, labels = images[chosen], labels[chosen]
    if len(images) < 4:
        raise ValueError(f"the quality score needs at least 4 labelled real images, not {len(images)}")
    return images, labels, classes


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in str(name))


def _load(path, key, inputs, classes):
    """The cached network if ``path`` holds one for exactly this key; None if missing or broken."""
    try:
        with np.load(path, allow_pickle=False) as file:
            net = {name: file[name] for name in file.files}
        shapes_match = (
            net["w1"].shape == (inputs, HIDDEN)
            and net["w2"].shape == (HIDDEN, FEATURES)
            and net["w3"].shape == (FEATURES, classes)
            and net["mean"].shape == (FEATURES,)
            and net["cov"].shape == (FEATURES, FEATURES)
        )
        if str(net["key"]) == key and int(net["version"]) == VERSION and shapes_match:
            return net
    except FileNotFoundError:
        return None
    except Exception as error:  # a damaged or foreign file: retrain and overwrite it
        print(f"quality: ignoring the unreadable cache file {path} ({type(error).__name__})")
        return None
    print(f"quality: the cache file {path} was made for other data or another version; retraining")
    return None


def _save(path, key, net):
    """Write the .npz next to its final name, then move it there: a crash never leaves half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    except OSError as error:  # a read-only cache: the score is still computed, just not kept
        print(f"quality: could not cache the feature network in {path.parent} ({error.strerror})")
        return
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, key=np.array(key), version=np.array(VERSION), **net)
        os.chmod(temporary, 0o644)  # readable by the grader's other answer processes
        os.replace(temporary, path)
    except OSError as error:
        print(f"quality: could not cache the feature network as {path} ({error.strerror})")
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _train(images, labels, classes):
    """Train the classifier on one half; the other half is the held-out reference."""
    global trainings
    trainings += 1
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(images))
    fit, held = order[: len(order) // 2], order[len(order) // 2 :]
    x, y = _inputs(images[fit]), labels[fit]
    epochs = int(np.clip(WORK // x.shape[1], 8, 30))  # the same work, about, at any image size
    net = {}
    for i, (fan_in, fan_out) in enumerate(((x.shape[1], HIDDEN), (HIDDEN, FEATURES), (FEATURES, classes)), 1):
        net[f"w{i}"] = (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in)).astype(np.float32)
        net[f"b{i}"] = np.zeros(fan_out, dtype=np.float32)
    moments = {name: (np.zeros_like(net[name]), np.zeros_like(net[name])) for name in _WEIGHTS}
    beta1, beta2, t = 0.9, 0.999, 0
    for _ in range(epochs):
        shuffled = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            batch = shuffled[start : start + BATCH]
            gradients = _gradients(net, x[batch], y[batch])
            t += 1
            for name in _WEIGHTS:  # Adam, written out; decoupled weight decay on the weights only
                m, v = moments[name]
                m[:] = beta1 * m + (1 - beta1) * gradients[name]
                v[:] = beta2 * v + (1 - beta2) * gradients[name] ** 2
                step = LR * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + 1e-8)
                if name.startswith("w"):
                    step += LR * WEIGHT_DECAY * net[name]
                net[name] -= step.astype(np.float32)
    logits, features = _forward(net, images[held])
    mean, cov = _gaussian(features)
    halves = []
    for _ in range(SPLITS):  # one split's distance varies a lot (2:1 and more), their mean less so
        split = rng.permutation(len(held))
        a, b = split[: len(held) // 2], split[len(held) // 2 :]
        halves.append(frechet_distance(*_gaussian(features[a]), *_gaussian(features[b])))
    net.update(
        mean=mean,
        cov=cov,
        fd_real=np.array(np.mean(halves)),
        accuracy=np.array(np.mean(logits.argmax(axis=1) == labels[held])),
        real_shares=np.bincount(logits.argmax(axis=1), minlength=classes) / len(held),
        reference=np.array(len(held)),
    )
    return net


def _forward(net, images, chunk=1024):
    """Logits and the 64 features of NHWC images, in chunks so memory stays small."""
    logits, features = [], []
    for start in range(0, len(images), chunk):
        x = _inputs(images[start : start + chunk])
        h2 = _relu(_relu(x @ net["w1"] + net["b1"]) @ net["w2"] + net["b2"])
        features.append(h2)
        logits.append(h2 @ net["w3"] + net["b3"])
    return np.concatenate(logits), np.concatenate(features)


def _inputs(images):
    """NHWC images → flat float32 rows, average-pooled first if larger than MAX_SIZE."""
    images = np.asarray(images, dtype=np.float32)
    n, height, width, channels = images.shape
    factor = -(-max(height, width) // MAX_SIZE)
    if factor > 1:  # the network's cost grows with the pixels; pool them in factor × factor blocks
        h, w = height // factor, width // factor
        blocks = images[:, : h * factor, : w * factor].reshape(n, h, factor, w, factor, channels)
        images = blocks.mean(axis=(2, 4))
    return images.reshape(n, -1)


def _relu(x):
    return np.maximum(x, 0)


def _gradients(net, x, y):
    """Softmax cross-entropy and its gradients by hand (backpropagation through two ReLU layers)."""
    h1 = _relu(x @ net["w1"] + net["b1"])
    h2 = _relu(h1 @ net["w2"] + net["b2"])
    logits = h2 @ net["w3"] + net["b3"]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1  # d(mean cross-entropy)/d logits = (softmax − one-hot) / N
    d3 = p / len(y)
    d2 = (d3 @ net["w3"].T) * (h2 > 0)
    d1 = (d2 @ net["w2"].T) * (h1 > 0)
    return {
        "w3": h2.T @ d3, "b3": d3.sum(0),
        "w2": h1.T @ d2, "b2": d2.sum(0),
        "w1": x.T @ d1, "b1": d1.sum(0),
    }  # fmt: skip
