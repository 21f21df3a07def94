"""The data kit: the built-in shapes, image folders, and the real download code for MNIST,
Fashion-MNIST and CIFAR-10, tested on tiny files written here in the real formats."""

import gzip
import hashlib
import http.server
import io
import pickle
import socket
import tarfile
import threading
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

import gendojo
from gendojo import data as kit
from gendojo.shapes import CLASSES, shapes


@dataclass
class Cfg:
    dataset: str = "shapes"
    data_dir: str = ""
    image_size: int = 16
    channels: int = 3
    dataset_size: int = 12
    seed: int = 0


def test_shapes_are_deterministic_and_independent_of_count():
    a, labels_a, sketches_a = shapes(12, 24, 3, seed=5)
    b, labels_b, _ = shapes(30, 24, 3, seed=5)
    assert np.array_equal(a, b[:12]) and np.array_equal(labels_a, labels_b[:12])
    c, _, _ = shapes(12, 24, 3, seed=6)
    assert not np.array_equal(a, c)
    assert sketches_a.shape == a.shape and a.dtype == np.uint8


def test_shapes_classes_are_balanced_and_distinct():
    images, labels, _ = shapes(120, 32, 3, seed=0)
    assert len(CLASSES) >= 5
    assert np.bincount(labels).tolist() == [120 // len(CLASSES)] * len(CLASSES)
    # Images vary: no two identical, and backgrounds differ (not a single colour everywhere).
    flat = images.reshape(len(images), -1)
    assert len({row.tobytes() for row in flat}) == len(images)
    assert images[:, 0, 0].std(axis=0).mean() > 20


def test_simple_shapes_are_centred_upright_and_separable_by_class():
    """simple-shapes: a plain dark ground, the shape in the middle, and each class's mean image
    differs from the others' (what lets a small GAN, and the cGAN's label check, learn them)."""
    images, labels, _ = shapes(240, 32, 3, seed=0, simple=True)
    value = images.astype(np.float64).max(axis=3)  # HSV value: the shape is bright, the ground dark
    corners = np.concatenate([value[:, :3, :3], value[:, -3:, -3:]], axis=1).reshape(len(value), -1)
    assert corners.std(axis=1).max() < 1.0 and corners.max() < 60  # plain and dark
    masks = value > 128  # the shape
    ys, xs = np.mgrid[0:32, 0:32]
    area = masks.sum(axis=(1, 2))
    centres = np.stack([(masks * ys).sum(axis=(1, 2)) / area, (masks * xs).sum(axis=(1, 2)) / area], 1)
    assert area.min() > 30 and np.abs(centres - 15.5).max() < 3.5, "shapes should be big and centred"
    means = np.stack([masks[labels == k].mean(axis=0) for k in range(len(CLASSES))])
    gaps = [np.abs(means[i] - means[j]).mean() for i in range(len(means)) for j in range(i)]
    assert min(gaps) > 0.05, f"two classes look alike on average: gap {min(gaps):.3f}"
    again, _, _ = shapes(12, 32, 3, seed=0, simple=True)
    assert np.array_equal(again, images[:12])
    assert not np.array_equal(again, shapes(12, 32, 3, seed=0)[0])
    data = gendojo.load_dataset(Cfg(dataset="simple-shapes", image_size=16))
    assert data.images.shape == (12, 16, 16, 3) and data.classes == CLASSES


@pytest.mark.parametrize("simple", [False, True])
def test_paired_view_is_well_posed_the_outline_carries_the_colours(simple):
    """pix2pix's input must determine its output: the sketch shows the picture's own ground and
    the shape's outline in the shape's own colour (a black outline would leave colours to chance)."""
    images, _, sketches = shapes(60, 32, 3, seed=4, simple=simple)
    pictures, sketches = images.astype(np.float64), sketches.astype(np.float64)
    corner = (slice(None), slice(0, 2), slice(0, 2))  # the ground, away from the shape and its shadow
    ground_gap = np.abs(sketches[corner] - pictures[corner]).max(axis=(1, 2, 3))
    assert np.median(ground_gap) <= 2, "the sketch should keep the picture's ground"
    for picture, sketch in zip(pictures, sketches, strict=True):
        ground = picture[0, 0]
        shape_colour = picture.reshape(-1, 3)[np.abs(picture - ground).sum(axis=2).argmax()]
        ink = sketch.reshape(-1, 3)[np.abs(sketch - sketch[0, 0]).sum(axis=2).argmax()]
        assert np.abs(ink - shape_colour).max() < 60, "the outline should be the shape's colour"
    grey = shapes(6, 16, 1, seed=4, simple=simple)[2]
    assert grey.shape == (6, 16, 16, 1) and grey.std() > 5


@pytest.mark.parametrize("size,channels", [(16, 1), (37, 3), (128, 3)])
def test_load_shapes_any_size_and_channels(size, channels):
    data = gendojo.load_dataset(Cfg(image_size=size, channels=channels))
    assert data.images.shape == (12, size, size, channels) and data.images.dtype == np.float32
    assert data.images.min() >= -1.0 and data.images.max() <= 1.0
    assert data.sources.shape == data.images.shape  # the paired view for pix2pix
    assert data.classes == CLASSES and data.labels.shape == (12,)


@pytest.mark.parametrize(
    "change,words",
    [(dict(image_size=8), "16 to 128"), (dict(image_size=200), "16 to 128"), (dict(channels=2), "channels"),
     (dict(dataset="imagenet"), "Unknown dataset"), (dict(dataset="folder"), "--data-dir"),
     (dict(dataset="folder", data_dir="/no/such/folder"), "does not exist")],
)  # fmt: skip
def test_bad_settings_are_clear_errors(change, words):
    with pytest.raises(gendojo.GenDojoError, match=words):
        gendojo.load_dataset(Cfg(**change))


def write_png(path, rng, shape=(40, 50, 3)):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), rng.integers(0, 255, shape, dtype=np.uint8))


def test_flat_image_folder_is_unlabelled_and_paired_folder_matches_names(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("one", "two", "three"):
        write_png(tmp_path / "flat" / f"{name}.png", rng)
        write_png(tmp_path / "pairs" / "A" / f"{name}.png", rng)
        write_png(tmp_path / "pairs" / "B" / f"{name}.png", rng)
    (tmp_path / "pairs" / "B" / "unpaired.jpg").write_bytes(
        cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    )
    folder = gendojo.load_dataset(Cfg(dataset="folder", data_dir=str(tmp_path / "flat"), dataset_size=0))
    assert folder.images.shape == (3, 16, 16, 3) and folder.labels is None and folder.classes is None
    paired = gendojo.load_dataset(
        Cfg(dataset="paired", data_dir=str(tmp_path / "pairs"), dataset_size=0, channels=1)
    )
    assert paired.images.shape == paired.sources.shape == (3, 16, 16, 1)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(gendojo.GenDojoError, match="No images"):
        gendojo.load_dataset(Cfg(dataset="folder", data_dir=str(empty)))
    with pytest.raises(gendojo.GenDojoError, match="A/"):
        gendojo.load_dataset(Cfg(dataset="paired", data_dir=str(empty)))


def test_class_folders_give_labels_sorted_by_name_and_interleaved(tmp_path):
    """DIR/<class>/*.png, the ImageFolder layout: labels by folder, classes sorted by name; the
    order interleaves the classes so that --dataset-size keeps all of them."""
    rng = np.random.default_rng(1)
    counts = {"zebra": 3, "apple": 2, "mango": 1}
    for name, count in counts.items():
        for i in range(count):
            write_png(tmp_path / name / f"{i}.png", rng, (20, 20, 3))
    write_png(tmp_path / "apple" / "deeper" / "more.png", rng, (20, 20, 3))  # still an apple
    (tmp_path / ".ipynb_checkpoints").mkdir()  # hidden: not a class
    data = gendojo.load_dataset(Cfg(dataset="folder", data_dir=str(tmp_path), dataset_size=0))
    assert data.classes == ("apple", "mango", "zebra")
    assert data.labels.dtype == np.int64 and np.bincount(data.labels).tolist() == [3, 1, 3]
    assert data.labels.tolist()[:3] == [0, 1, 2]
    some = gendojo.load_dataset(Cfg(dataset="folder", data_dir=str(tmp_path), dataset_size=3))
    assert sorted(some.labels.tolist()) == [0, 1, 2] and len(some.images) == 3
    # the image each label sits beside is the one from that class's folder
    for index, name in enumerate(("apple", "mango")):
        expected = kit._read_image(tmp_path / name / "0.png", 16, 3)
        assert np.array_equal(data.images[index], kit._scale(expected))
    # one class folder alone has nothing to tell apart: unlabelled, like a flat folder
    single = tmp_path / "single"
    write_png(single / "cats" / "a.png", rng)
    assert gendojo.load_dataset(Cfg(dataset="folder", data_dir=str(single))).labels is None


@pytest.mark.parametrize(
    "layout,words",
    [({"loose.png": 1, "a/x.png": 1, "b/y.png": 1}, "mixes images"),
     ({"a/x.png": 1, "b/y.png": 1, "c/notes.txt": 0}, r"without images \(c\)")],
)  # fmt: skip
def test_mixed_or_empty_class_folders_are_one_line_errors(tmp_path, layout, words):
    rng = np.random.default_rng(2)
    for name, is_image in layout.items():
        if is_image:
            write_png(tmp_path / name, rng, (12, 12, 3))
        else:
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text("not an image")
    with pytest.raises(gendojo.GenDojoError, match=words) as error:
        gendojo.load_dataset(Cfg(dataset="folder", data_dir=str(tmp_path)))
    assert "\n" not in str(error.value)


def test_digits_are_real_labelled_and_resized(tmp_path):
    """scikit-learn's 1797 handwritten digits, offline: bright ink on black, ten classes."""
    grey = gendojo.load_dataset(Cfg(dataset="digits", image_size=32, channels=1, dataset_size=0))
    assert grey.images.shape == (1797, 32, 32, 1) and grey.images.dtype == np.float32
    assert grey.classes == tuple("0123456789") and np.bincount(grey.labels).min() >= 170
    assert grey.images.min() == -1.0 and grey.images.max() == 1.0
    assert grey.images[:, :2, :2].mean() < -0.95  # black corners: the digit is the bright part
    means = np.stack([grey.images[grey.labels == k].mean(axis=0) for k in range(10)])
    gaps = [np.abs(means[i] - means[j]).mean() for i in range(10) for j in range(i)]
    assert min(gaps) > 0.05, "the classes should look different on average"
    colour = gendojo.load_dataset(Cfg(dataset="digits", image_size=16, channels=3, dataset_size=100))
    assert colour.images.shape == (100, 16, 16, 3) and len(colour.labels) == 100
    assert np.array_equal(colour.images[..., 0], colour.images[..., 2])  # grey, repeated
    assert set(colour.labels.tolist()) == set(range(10))


def test_digits_without_scikit_learn_is_a_clear_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import fails as if not installed
    with pytest.raises(gendojo.GenDojoError, match="pip install scikit-learn"):
        gendojo.load_dataset(Cfg(dataset="digits"))


@pytest.mark.parametrize("source", ["digits", "folder"])
def test_quality_score_works_on_digits_and_labelled_folders(tmp_path, source):
    """Ten classes: the feature net reads digits, real images cover every class, one repeated
    digit covers one class in ten. The same from a labelled folder of PNGs."""
    from gendojo import quality

    data = gendojo.load_dataset(Cfg(dataset="digits", image_size=16, channels=1, dataset_size=0))
    if source == "folder":
        for i, (image, label) in enumerate(zip(data.images[:600], data.labels[:600], strict=True)):
            path = tmp_path / "digits" / f"class{label}" / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), np.rint((image + 1) * 127.5).astype(np.uint8))
        data = gendojo.load_dataset(
            Cfg(dataset="folder", data_dir=str(tmp_path / "digits"), channels=1, dataset_size=0)
        )
        assert data.classes == tuple(f"class{k}" for k in range(10))
    some = np.random.default_rng(0).permutation(len(data.images))[: len(data.images) // 2]
    real = quality.score(data, data.images[some], data.labels[some], cache_dir=tmp_path / "cache")
    assert real["classifier_accuracy"] > 0.8 and real["coverage"] == 1.0
    assert real["label_accuracy"] > 0.8
    stuck = quality.score(data, np.repeat(data.images[:1], 200, axis=0), cache_dir=tmp_path / "cache")
    assert stuck["coverage"] == 0.1 and stuck["fd"] > 10 * real["fd"]


# --- tiny files in the real formats --------------------------------------------------------------


def idx_bytes(array):
    """An IDX file: zero, zero, type 0x08 (uint8), number of dimensions, sizes, then the data."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def write_mnist_like(folder, count=7):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, count, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "train-images-idx3-ubyte.gz": idx_bytes(images),
        "train-labels-idx1-ubyte.gz": idx_bytes(labels),
        "t10k-images-idx3-ubyte.gz": idx_bytes(images[:2]),
        "t10k-labels-idx1-ubyte.gz": idx_bytes(labels[:2]),
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return images, labels, files


def cifar_bytes(count=4):
    rng = np.random.default_rng(2)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for number in range(1, 6):
            batch = {
                b"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
                b"labels": [number % 10] * count,
            }
            content = pickle.dumps(batch)
            info = tarfile.TarInfo(f"cifar-10-batches-py/data_batch_{number}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_files_put_by_hand_are_read(tmp_path, name):
    images, labels, _ = write_mnist_like(tmp_path / name)
    data = gendojo.load_dataset(
        Cfg(dataset=name, data_dir=str(tmp_path), image_size=28, channels=1, dataset_size=0)
    )
    assert np.array_equal(data.labels, labels)
    assert np.allclose(data.images[..., 0], images / 127.5 - 1, atol=1e-6)
    assert len(data.classes) == 10
    small = gendojo.load_dataset(
        Cfg(dataset=name, data_dir=str(tmp_path), image_size=16, channels=3, dataset_size=5)
    )
    assert small.images.shape == (5, 16, 16, 3)


def test_cifar10_tarball_is_read(tmp_path):
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar-10-python.tar.gz").write_bytes(cifar_bytes())
    data = gendojo.load_dataset(Cfg(dataset="cifar10", data_dir=str(tmp_path), image_size=32, dataset_size=0))
    assert data.images.shape == (20, 32, 32, 3) and data.labels.tolist()[:5] == [1, 1, 1, 1, 2]
    assert data.classes[0] == "airplane"


class Server:
    """A local HTTP server handing out the files of one folder, for the download tests."""

    def __init__(self, folder):
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(folder), **k)  # noqa: E731
        handler.log_message = lambda *a: None
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_download_verifies_checksums_and_caches(tmp_path, monkeypatch):
    _, labels, files = write_mnist_like(tmp_path / "mirror")
    server = Server(tmp_path / "mirror")
    try:
        md5 = {name: hashlib.md5(content).hexdigest() for name, content in files.items()}
        monkeypatch.setitem(kit.REMOTE, "mnist", {**kit.REMOTE["mnist"], "url": server.url, "md5": md5})
        data = gendojo.load_dataset(
            Cfg(dataset="mnist", data_dir=str(tmp_path / "cache"), image_size=28, channels=1, dataset_size=0)
        )
        assert np.array_equal(data.labels, labels)
        assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == sorted(files)

        # A damaged download is refused and nothing is left in the cache.
        bad = {**md5, "t10k-labels-idx1-ubyte.gz": "0" * 32}
        monkeypatch.setitem(kit.REMOTE, "mnist", {**kit.REMOTE["mnist"], "md5": bad})
        with pytest.raises(gendojo.GenDojoError, match="damaged"):
            kit.download("mnist", tmp_path / "other")
        assert not any(p.suffix == ".part" for p in (tmp_path / "other" / "mnist").iterdir())
        assert not (tmp_path / "other" / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    finally:
        server.close()


def test_offline_download_names_url_and_folder(tmp_path, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on: the download is refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    monkeypatch.setitem(kit.REMOTE, "cifar10", {**kit.REMOTE["cifar10"], "url": url})
    with pytest.raises(gendojo.GenDojoError) as error:
        gendojo.load_dataset(Cfg(dataset="cifar10", data_dir=str(tmp_path)))
    message = str(error.value)
    assert url + "cifar-10-python.tar.gz" in message
    assert str(tmp_path / "cifar10") in message and "--dataset shapes" in message
