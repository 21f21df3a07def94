"""The quality score (gendojo/quality.py): it must tell real images from bad ones, cache its network,
and skip cleanly where it can't work. One 16-pixel network, trained once here (about 2 s)."""

import json
import types
from dataclasses import dataclass

import numpy as np
import pytest

from gendojo import outputs, quality, shapes
from gendojo.data import Dataset, _scale

SIZE, K = 16, len(shapes.CLASSES)
pytestmark = pytest.mark.xdist_group("quality")  # one worker trains the shared feature network once


@dataclass
class Run:  # the config fields train_and_save reads
    out: str
    resume: bool = False
    sample_every: int = 0


def draw(count, seed):
    images, labels, _ = shapes.shapes(count, SIZE, 3, seed, True)
    return Dataset(_scale(images), labels, shapes.CLASSES)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """The training set, images it never saw, and ``score`` against it with one shared cache."""
    data, fresh = draw(4096, 0), draw(600, 7)
    folder = tmp_path_factory.mktemp("quality")

    def score(samples, labels=None):
        return quality.score(data, samples, labels, cache_dir=folder)

    return types.SimpleNamespace(data=data, fresh=fresh, score=score, real=score(fresh.images, fresh.labels))


def blur(images):
    """A 3 × 3 box blur, edges repeated: every shape still there, its edges soft."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    return sum(padded[:, y : y + SIZE, x : x + SIZE] for y in range(3) for x in range(3)) / 9


def test_real_images_score_near_the_real_baseline(scored):
    real = scored.real
    assert real["classifier_accuracy"] > 0.95
    assert real["fd"] < 3 * real["fd_real"], real
    assert real["coverage"] == 1.0
    assert real["label_accuracy"] > 0.95


@pytest.mark.parametrize("kind", ["noise", "blurred", "shuffled pixels", "one class"])
def test_bad_samples_score_a_larger_distance_than_real_ones(scored, kind):
    images = scored.fresh.images
    rng = np.random.default_rng(0)
    bad = {
        "noise": lambda: rng.uniform(-1, 1, images.shape).astype(np.float32),
        "blurred": lambda: blur(images),
        "shuffled pixels": lambda: images.reshape(len(images), -1, 3)[
            :, rng.permutation(SIZE * SIZE)
        ].reshape(images.shape),
        "one class": lambda: images[scored.fresh.labels == 2],
    }[kind]()
    result = scored.score(bad)
    # measured: real 1.5 (real vs real 1.6), blurred 33, shuffled 503, one class 642, noise 986
    assert result["fd"] > 10 * scored.real["fd"], (kind, result["fd"], scored.real["fd"])


def test_coverage_of_a_collapsed_generator_is_one_class_in_k(scored):
    one = scored.fresh.images[scored.fresh.labels == 4]
    assert scored.score(one)["coverage"] == pytest.approx(1 / K)
    two = scored.fresh.images[scored.fresh.labels < 2]
    assert scored.score(two)["coverage"] == pytest.approx(2 / K)
    # the ratios say which classes were left out: about K / 2 for the two drawn, 0 for the rest
    result = scored.score(two)
    ratios = list(result["class_ratios"].values())
    assert len(ratios) == K and all(r > 2 for r in ratios[:2]) and max(ratios[2:]) < 0.1, ratios
    assert all(0.7 < r < 1.3 for r in scored.real["class_ratios"].values()), scored.real
    assert "under half their real share: triangle at 0.00, star at 0.00" in quality.describe(result)
    assert "under half" not in quality.describe(scored.real)


def test_label_accuracy_falls_to_chance_when_the_labels_are_wrong(scored):
    shuffled = np.random.default_rng(1).permutation(scored.fresh.labels)
    assert scored.score(scored.fresh.images, shuffled)["label_accuracy"] < 0.35  # chance: 1/6
    assert "label_accuracy" not in scored.score(scored.fresh.images)


def test_frechet_distance_matches_the_closed_form_for_diagonal_covariances():
    rng = np.random.default_rng(0)
    m1, m2, s1, s2 = rng.normal(size=5), rng.normal(size=5), rng.uniform(0.1, 2, 5), rng.uniform(0.1, 2, 5)
    expected = np.sum((m1 - m2) ** 2) + np.sum((s1 - s2) ** 2)  # the σ, not the σ²
    assert quality.frechet_distance(m1, np.diag(s1**2), m2, np.diag(s2**2)) == pytest.approx(expected)
    a = rng.normal(size=(200, 5))
    cov = np.cov(a, rowvar=False)
    assert quality.frechet_distance(a.mean(0), cov, a.mean(0), cov) == pytest.approx(0, abs=1e-6)


def test_the_network_is_cached_and_a_damaged_cache_file_is_replaced(tmp_path, capsys):
    data, samples = draw(120, 3), draw(40, 4).images
    before = quality.trainings
    first = quality.score(data, samples, cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.npz")
    stamp = path.stat().st_mtime_ns
    assert quality.score(data, samples, cache_dir=tmp_path) == first
    assert quality.trainings == before + 1 and path.stat().st_mtime_ns == stamp, "the cache was not used"

    path.write_bytes(b"not a zip file")
    assert quality.score(data, samples, cache_dir=tmp_path)["fd"] == pytest.approx(first["fd"], rel=1e-4)
    assert quality.trainings == before + 2
    assert "unreadable cache file" in capsys.readouterr().out

    with np.load(path) as file:  # a file from another version of the network: retrained too
        saved = dict(file)
    np.savez(path, **{**saved, "version": np.array(quality.VERSION - 1)})
    quality.score(data, samples, cache_dir=tmp_path)
    assert quality.trainings == before + 3
    with np.load(path) as file:
        assert int(file["version"]) == quality.VERSION

    other = draw(120, 5)  # other training images (another --seed): another file, not a reuse
    quality.score(other, samples, cache_dir=tmp_path)
    assert quality.trainings == before + 4 and len(list(tmp_path.glob("*.npz"))) == 2


def test_the_cache_lives_next_to_the_downloads(monkeypatch, tmp_path):
    monkeypatch.setenv("GENDOJO_DATA", str(tmp_path))
    assert quality.cache_folder(types.SimpleNamespace(data_dir="")) == tmp_path / "quality"
    assert quality.cache_folder(types.SimpleNamespace(data_dir="mine")).as_posix() == "mine/quality"


def test_unlabelled_data_and_diverged_samples_are_skipped_with_a_reason(tmp_path):
    images = draw(40, 0).images
    config = types.SimpleNamespace(dataset="folder", data_dir=str(tmp_path))
    result = quality.score(Dataset(images), images, config=config)
    assert quality.describe(result) == (
        "quality: skipped (the folder data set has no labels to train the feature network on)"
    )
    assert not any(tmp_path.iterdir()), "nothing is trained or cached for an unlabelled set"
    broken = images.copy()
    broken[0, 0, 0, 0] = np.nan
    assert "diverged" in quality.describe(quality.score(draw(40, 0), broken, cache_dir=tmp_path))


def test_large_images_are_pooled_to_at_most_32_pixels():
    assert quality._inputs(np.zeros((2, 64, 64, 3), np.float32)).shape == (2, 32 * 32 * 3)
    assert quality._inputs(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 28 * 28)


def test_train_and_save_prints_the_score_and_stores_it_in_the_history(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("gendojo.frameworks.save_checkpoint", lambda networks, out: None)
    monkeypatch.setattr("gendojo.frameworks.count_parameters", lambda network: 0)
    config = Run(out=str(tmp_path))
    image = np.zeros((1, 8, 8, 3), np.float32)

    def train(config, data, networks, callback):
        for step in range(3):
            callback(step, networks)
        return networks, {"loss": [3.0, 2.0, 1.0]}

    def score(networks):
        return {
            "fd": 1.5,
            "fd_real": 1.0,
            "coverage": 1.0,
            "classifier_accuracy": 0.9,
            "reference_images": 900,
        }

    outputs.train_and_save(
        config, "fake", "numpy", lambda c: {"g": None}, train, None, lambda n: image, score
    )
    record = json.loads((tmp_path / "history.json").read_text())
    assert record["quality"]["fd"] == 1.5 and record["quality"]["seconds"] >= 0
    assert "quality: FD 1.50 (real vs real 1.00" in capsys.readouterr().out
