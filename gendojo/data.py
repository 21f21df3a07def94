"""Data sets as NumPy arrays: NHWC float32 in [-1, 1], with int64 labels where they exist.

``load_dataset(config)`` is all an answer calls. It reads these config fields:

=================  =========================================================================
``dataset``        ``shapes`` (built in, the default), ``simple-shapes`` (built in: upright,
                   centred shapes on a plain dark ground, the GAN topics' default), ``digits``
                   (offline: the 1797 real handwritten digits scikit-learn ships), ``mnist``,
                   ``fashion_mnist``, ``cifar10``, ``folder`` (your own images; labelled when
                   they sit in class sub-folders) or ``paired`` (``A/`` and ``B/``)
``data_dir``       download cache for the public sets; the image folder for ``folder`` and
                   ``paired``
``image_size``     every image is resized to this square size
``channels``       1 (grey) or 3 (RGB); colour images are converted as needed
``dataset_size``   how many images to use (0: all of them; ``shapes`` draws this many)
``seed``           the ``shapes`` drawing seed
=================  =========================================================================

MNIST, Fashion-MNIST and CIFAR-10 are downloaded once into ``data_dir`` and checked against their
published MD5 sums. Without a network the error says which files to fetch and where to put them.
"""

import gzip
import hashlib
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gendojo import shapes as _shapes
from gendojo.errors import GenDojoError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@dataclass
class Dataset:
    """What ``load_dataset`` returns. ``images`` is the data a model learns to produce."""

    images: np.ndarray  # (N, H, W, C) float32 in [-1, 1]
    labels: np.ndarray | None = None  # (N,) int64 class indices, if the set has classes
    classes: tuple | None = None  # class names, index → name
    sources: np.ndarray | None = None  # paired sets only: the input side A; images is B

    def __len__(self):
        return len(self.images)


# --- public data sets: where they live and what their files must hash to -----------------------

_IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
REMOTE = {
    "mnist": {
        "url": "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "md5": dict(
            zip(
                _IDX_FILES,
                (
                    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                    "d53e105ee54ea40749a09fcbcd1e9432",
                    "9fb629c4189551a2d022fa330f9573f3",
                    "ec29112dd5afa0611ce80d1b7f02629c",
                ),
                strict=True,
            )
        ),
        "classes": tuple(str(digit) for digit in range(10)),
    },
    "fashion_mnist": {
        "url": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "md5": dict(
            zip(
                _IDX_FILES,
                (
                    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                    "25c81989df183df01b3e8a0aad5dffbe",
                    "bef4ecab320f06d8554ea6380940ec79",
                    "bb300cfdad3c16e7a12a480ee83cd310",
                ),
                strict=True,
            )
        ),
        "classes": (
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),  # fmt: skip
    },
    "cifar10": {
        "url": "https://www.cs.toronto.edu/~kriz/",
        "md5": {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"},
        "classes": (
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck",
        ),  # fmt: skip
    },
}
DATASETS = ("shapes", "simple-shapes", "digits", *REMOTE, "folder", "paired")
DRAWN = ("shapes", "simple-shapes")  # drawn by code; every other data set is real images
DIGITS = tuple(str(digit) for digit in range(10))


def load_dataset(config):
    """Load ``config.dataset`` as a ``Dataset`` of NHWC float32 images in [-1, 1]."""
    name = config.dataset
    size, channels, limit = config.image_size, config.channels, config.dataset_size
    if channels not in (1, 3):
        raise GenDojoError(f"--channels must be 1 (grey) or 3 (RGB), not {channels}.")
    if not 8 <= size <= 1024:
        raise GenDojoError(f"--image-size must be between 8 and 1024 pixels, not {size}.")
    if name in ("shapes", "simple-shapes"):
        if not _shapes.MIN_SIZE <= size <= _shapes.MAX_SIZE:
            raise GenDojoError(
                f"The shapes data set is drawn at {_shapes.MIN_SIZE} to {_shapes.MAX_SIZE} "
                f"pixels; --image-size {size} is outside that range."
            )
        simple = name == "simple-shapes"
        images, labels, sketches = _shapes.shapes(limit or 4096, size, channels, config.seed, simple)
        return Dataset(_scale(images), labels, _shapes.CLASSES, _scale(sketches))
    if name == "digits":
        images, labels = _read_digits()
        if limit:
            images, labels = images[:limit], labels[:limit]
        return Dataset(_scale(_resize(images, size, channels)), labels, DIGITS)
    if name in REMOTE:
        files = download(name, config.data_dir)
        images, labels = (_read_cifar10 if name == "cifar10" else _read_idx)(files)
        if limit:
            images, labels = images[:limit], labels[:limit]
        return Dataset(_scale(_resize(images, size, channels)), labels, REMOTE[name]["classes"])
    if name == "folder":
        files, labels, classes = _folder_files(_existing_dir(config.data_dir, "an image folder"))
        if limit:
            files, labels = files[:limit], labels[:limit] if labels is not None else None
        images = _scale(np.stack([_read_image(f, size, channels) for f in files]))
        return Dataset(images, labels, classes)
    if name == "paired":
        root = _existing_dir(config.data_dir, "a paired folder with A/ and B/ inside")
        sources, targets = _paired_files(root)
        if limit:
            sources, targets = sources[:limit], targets[:limit]
        return Dataset(
            images=_scale(np.stack([_read_image(f, size, channels) for f in targets])),
            sources=_scale(np.stack([_read_image(f, size, channels) for f in sources])),
        )
    raise GenDojoError(f"Unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}.")


def _scale(images):
    """uint8 [0, 255] → float32 [-1, 1], the range every GenDojo model works in (tanh's range)."""
    return images.astype(np.float32) / 127.5 - 1.0


def _resize(images, size, channels):
    """Resize a uint8 NHWC batch to ``size``×``size`` and convert it to ``channels``."""
    return np.stack([_convert(image, size, channels) for image in images])


def _convert(image, size, channels):
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[:2] != (size, size):
        shrinking = image.shape[0] > size
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        image = cv2.resize(image, (size, size), interpolation=interpolation)
        if image.ndim == 2:
            image = image[..., None]
    if image.shape[2] == 1 and channels == 3:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] == 3 and channels == 1:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None]
    return image


# --- image folders -------------------------------------------------------------------------------


def _existing_dir(path, what):
    if not path:
        raise GenDojoError(f"This dataset reads {what}: pass it with --data-dir.")
    path = Path(path)
    if not path.is_dir():
        raise GenDojoError(f"--data-dir {path} does not exist or is not a folder; it should be {what}.")
    return path


def _image_files(folder):
    files = _images_in(folder)
    if not files:
        raise GenDojoError(
            f"No images in {folder}: put .png or .jpg files there (sub-folders are searched too)."
        )
    return files


def _folder_files(root):
    """``(files, labels, classes)`` of an image folder, in the ImageFolder layout when it has one.

    ``DIR/<class>/…`` (two classes or more, no image directly in ``DIR``): every image under a
    class folder gets that class, classes sorted by name. Images directly in ``DIR`` and no class
    folders: unlabelled (``labels`` and ``classes`` None). Hidden folders (``.ipynb_checkpoints``)
    are skipped.
    """
    loose = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    grouped = {folder.name: _images_in(folder) for folder in folders}
    grouped = {name: files for name, files in grouped.items() if files}
    if loose and grouped:
        raise GenDojoError(
            f"{root} mixes images of its own with class folders ({', '.join(grouped)}): put every "
            f"image in a class folder (DIR/<class>/*.png) for labels, or all directly in {root}."
        )
    if len(grouped) < 2:  # one folder or none: no classes to tell apart
        return _image_files(root), None, None
    empty = [folder.name for folder in folders if folder.name not in grouped]
    if empty:
        raise GenDojoError(
            f"{root} has class folders without images ({', '.join(empty)}): fill or remove them."
        )
    classes = tuple(grouped)
    files = [f for files in grouped.values() for f in files]
    labels = np.concatenate([np.full(len(grouped[c]), k, np.int64) for k, c in enumerate(classes)])
    # class by class on disk, but interleaved here so that --dataset-size N keeps every class
    order = np.argsort(np.concatenate([np.arange(len(grouped[c])) for c in classes]), kind="stable")
    return [files[i] for i in order], labels[order], classes


def _images_in(folder):
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def _paired_files(root):
    folders = [root / "A", root / "B"]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise GenDojoError(
            f"A paired dataset needs two folders, A/ (inputs) and B/ (targets), with matching "
            f"file names; missing: {', '.join(missing)}."
        )
    a = {p.stem: p for p in _image_files(folders[0])}
    b = {p.stem: p for p in _image_files(folders[1])}
    common = sorted(a.keys() & b.keys())
    if not common:
        raise GenDojoError(f"No file name appears in both {folders[0]} and {folders[1]}.")
    return [a[k] for k in common], [b[k] for k in common]


def _read_image(path, size, channels):
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise GenDojoError(f"Could not read {path} as an image.")
    return _convert(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), size, channels)


def _read_digits():
    """scikit-learn's copy of the UCI optical digits: 1797 8×8 images, 17 grey levels (0 … 16)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise GenDojoError(
            "--dataset digits reads the handwritten digits that scikit-learn ships: "
            "pip install scikit-learn (bash setup.sh installs it)."
        ) from error
    digits = load_digits()
    images = np.rint(digits.images * (255 / 16)).astype(np.uint8)[..., None]
    return images, digits.target.astype(np.int64)


# --- downloads -----------------------------------------------------------------------------------


def _md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(name, data_dir=None):
    """Return the paths of ``name``'s files in the cache, downloading the missing ones.

    The cache is ``data_dir/<name>``, or ``datasets/cache/<name>`` without ``data_dir`` (the
    environment variable ``GENDOJO_DATA`` overrides that default). A download is written to a
    temporary file, checked against its MD5 sum, then moved into place, so a broken download never
    sits in the cache. Files you put there by hand are used as they are.
    """
    remote = REMOTE[name]
    cache = Path(data_dir or os.environ.get("GENDOJO_DATA", "datasets/cache")) / name
    paths = {}
    for filename, md5 in remote["md5"].items():
        path = cache / filename
        if not path.exists():
            _fetch(remote["url"] + filename, path, md5, name)
        paths[filename] = path
    return paths


def _fetch(url, path, md5, name):
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"Downloading {url} → {path}")
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file, urllib.request.urlopen(url, timeout=30) as response:
            shutil.copyfileobj(response, file)
        actual = _md5(temporary)
        if actual != md5:
            raise GenDojoError(
                f"The download of {url} is damaged: its MD5 sum is {actual}, not {md5}. "
                f"Nothing was saved; try again, or fetch the file by hand into {path.parent}."
            )
        os.replace(temporary, path)
    except (urllib.error.URLError, OSError) as error:
        raise GenDojoError(
            f"Could not download {url} ({getattr(error, 'reason', error)}). This machine seems "
            f"to be offline, or the server refused. Either run again with a network, or fetch "
            f"the files of {name} by hand ({', '.join(REMOTE[name]['md5'])} from "
            f"{REMOTE[name]['url']}) and put them, unchanged, in the folder {path.parent}. "
            f"Or use the built-in dataset, which needs no download: --dataset shapes."
        ) from error
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _read_idx(files):
    """MNIST-format training images and labels (IDX: big-endian header, then raw uint8)."""

    def read(path, magic):
        with gzip.open(path, "rb") as file:
            data = file.read()
        found = int.from_bytes(data[:4], "big")
        if found != magic:
            raise GenDojoError(f"{path} is not an IDX file (magic number {found}, not {magic}).")
        dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(magic & 0xFF)]
        offset = 4 + 4 * len(dims)
        return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)

    images = read(files["train-images-idx3-ubyte.gz"], 2051)[..., None]
    labels = read(files["train-labels-idx1-ubyte.gz"], 2049).astype(np.int64)
    if len(images) != len(labels):
        raise GenDojoError(f"{len(images)} images but {len(labels)} labels in the IDX files.")
    return images, labels


def _read_cifar10(files):
    """CIFAR-10 training batches from the python-format tarball (pickled dicts, CHW rows)."""
    (archive,) = files.values()
    images, labels = [], []
    with tarfile.open(archive, "r:gz") as tar:
        for number in range(1, 6):
            member = tar.extractfile(f"cifar-10-batches-py/data_batch_{number}")
            if member is None:
                raise GenDojoError(f"{archive} has no data_batch_{number}.")
            batch = pickle.load(member, encoding="bytes")
            images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.extend(batch[b"labels"])
    return np.concatenate(images).transpose(0, 2, 3, 1), np.asarray(labels, dtype=np.int64)
