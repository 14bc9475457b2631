"""Training on real photos: weighted source mixtures, augmentation that keeps boxes right, the shared decoded-image
cache, and bad training specs named at start-up."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import cv2
import gymnasium as gym
import numpy as np
import pytest

import facebox  # noqa: F401
from facebox.config import ConfigError
from facebox.envs.augment import Augmentation
from facebox.envs.data import cache as cache_module
from facebox.envs.data import open_dataset
from facebox.envs.data.cache import CachedImages, RenderedImages, with_cache
from facebox.envs.data.mixture import MixedDataset

ENV = "facebox/FaceLocalization-v0"


def write_set(folder: Path, n: int, size=(120, 90)) -> str:
    """``n`` noise JPEGs with one box each and their CSV: a small real-format training set."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["image,x1,y1,x2,y2"]
    for i in range(n):
        pixels = np.random.default_rng(i).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"{i}.png"), pixels)
        rows.append(f"{i}.png,{10 + i},20,{50 + i},70")
    (folder / "faces.csv").write_text("\n".join(rows) + "\n")
    return f"csv:{folder / 'faces.csv'}"


def test_a_mixture_samples_sources_by_weight_and_indexes_them_in_order():
    mix = open_dataset({"synthetic?seed=1&length=5": 3, "synthetic?seed=2&length=7": 1})
    assert isinstance(mix, MixedDataset) and len(mix) == 12
    assert [mix[i].source for i in (0, 4, 5, 11)] == [
        "synthetic:1/0",
        "synthetic:1/4",
        "synthetic:2/0",
        "synthetic:2/6",
    ]
    rng = np.random.default_rng(0)
    first = np.mean([mix.sample(rng).source.startswith("synthetic:1/") for _ in range(2000)])
    assert first == pytest.approx(0.75, abs=0.03)


@pytest.mark.parametrize("weight", [0, -1, float("nan"), "1", True])
def test_a_bad_weight_is_named(weight):
    with pytest.raises(ConfigError, match=re.escape("config['dataset']") + ".*synthetic.*weight > 0"):
        gym.make(ENV, config={"dataset": {"synthetic": weight}})


def test_bad_training_specs_fail_at_start_up_naming_the_file_and_line(tmp_path):
    good = write_set(tmp_path / "good", 3)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "missing"))):
        gym.make(ENV, config={"dataset": {"synthetic": 1, f"csv:{tmp_path / 'missing'}": 1}})
    bad = write_set(tmp_path / "bad", 3)
    table = Path(bad.removeprefix("csv:"))
    table.write_text(table.read_text() + "2.png,1,2,three,4\n")
    with pytest.raises(ValueError, match=re.escape(f"{table}:5") + ".*expected numbers"):
        gym.make(ENV, config={"dataset": {good: 1, bad: 1}})
    with pytest.raises(ConfigError, match="unknown format 'nosuch'"):
        gym.make(ENV, config={"dataset": {good: 1, "nosuch:x": 1}})


def painted(box, size=(160, 120)):
    """A black image with a white rectangle exactly on ``box``."""
    image = np.zeros((size[1], size[0], 3), np.uint8)
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = 255
    return image


def found(image):
    ys, xs = np.nonzero(image[:, :, 0] > 127)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


@pytest.mark.parametrize("seed", range(20))
def test_flips_and_zooms_move_the_box_with_the_face(seed):
    augment = Augmentation({"flip": 0.5, "zoom": [0.4, 2.5]}, "augment")
    image, boxes = augment(painted((30, 40, 70, 90)), np.array([[30, 40, 70, 90]]), np.random.default_rng(seed))
    assert boxes.shape == (1, 4)
    assert found(image) == pytest.approx(boxes[0].tolist(), abs=0)


def test_a_crop_drops_faces_it_cuts_off_but_keeps_the_chosen_one_whole():
    boxes = np.array([[5, 5, 25, 25], [120, 80, 150, 110]], np.float64)
    augment = Augmentation({"zoom": [0.3, 0.3]}, "augment")
    for seed in range(10):
        image, out = augment(painted((5, 5, 25, 25)), boxes, np.random.default_rng(seed))
        assert len(out) == 1 and image.shape[:2] == (36, 48)
        w, h = out[0, 2] - out[0, 0], out[0, 3] - out[0, 1]
        assert (w, h) in ((20, 20), (30, 30))  # one face, whole


def test_colour_changes_keep_shape_and_type_and_differ_from_the_input():
    image = np.random.default_rng(0).integers(0, 256, (50, 60, 3), dtype=np.uint8)
    augment = Augmentation({"brightness": 0.3, "contrast": 0.5, "saturation": 0.5, "grey": 0.5, "blur": 0.5}, "a")
    outs = [augment(image, np.array([[1, 1, 9, 9]]), np.random.default_rng(s))[0] for s in range(8)]
    assert all(o.shape == image.shape and o.dtype == np.uint8 for o in outs)
    assert all(not np.array_equal(o, image) for o in outs)
    grey = [o for o in outs if np.array_equal(o[:, :, 0], o[:, :, 2])]
    assert 0 < len(grey) < len(outs)


def test_augmentation_off_draws_nothing_so_the_default_env_is_unchanged():
    assert not Augmentation({}, "augment").active
    plain, augmented = gym.make(ENV), gym.make(ENV, config={"augment": {"flip": 0.0}})
    for seed in range(3):
        a, b = plain.reset(seed=seed)[0], augmented.reset(seed=seed)[0]
        assert np.array_equal(a["glimpse"], b["glimpse"])
    env = gym.make(ENV, config={"augment": {"flip": 1.0}})
    mirrored = env.reset(seed=0)[0]["glimpse"]
    assert not np.array_equal(mirrored, plain.reset(seed=0)[0]["glimpse"])


@pytest.mark.parametrize(("augment", "key"), [({"flip": 2}, "flip"), ({"zoom": [2, 1]}, "zoom"), ({"spin": 1}, "spin")])
def test_bad_augment_options_are_named(augment, key):
    with pytest.raises(ConfigError, match=re.escape(f"config['augment'][{key!r}]")):
        gym.make(ENV, config={"augment": augment})


def test_the_cache_serves_the_same_pixels_from_one_file_within_its_limit(tmp_path, monkeypatch):
    spec = write_set(tmp_path / "set", 6)
    plain = open_dataset(spec)
    one = 120 * 90 * 3 / 2**20
    cached = with_cache(plain, limit_mb=4.5 * one, directory=tmp_path / "cache")
    assert isinstance(cached, CachedImages) and len(cached.shapes) == 4  # bounded: 4 of 6 images fit
    assert cached.cached_mb == pytest.approx(4 * one)
    for i in range(6):
        assert np.array_equal(cached[i].image, plain[i].image)
        assert np.array_equal(cached[i].boxes, plain[i].boxes)
    assert not cached[0].image.flags.writeable  # the shared pages are read-only
    decoded = []
    monkeypatch.setattr(cache_module, "read_image", lambda path: decoded.append(path))
    again = with_cache(open_dataset(spec), limit_mb=4.5 * one, directory=tmp_path / "cache")
    assert decoded == [] and np.array_equal(again[3].image, plain[3].image)  # the second process decodes nothing
    copy = pickle.loads(pickle.dumps(again))
    assert copy._pixels is None and np.array_equal(copy[2].image, plain[2].image)


def test_a_changed_image_makes_a_new_cache_file(tmp_path):
    spec = write_set(tmp_path / "set", 2)
    first = with_cache(open_dataset(spec), 10, tmp_path / "cache")
    cv2.imwrite(str(tmp_path / "set" / "0.png"), np.zeros((90, 120, 3), np.uint8))
    second = with_cache(open_dataset(spec), 10, tmp_path / "cache")
    assert first.pixels_path != second.pixels_path and second[0].image.max() == 0


def test_the_env_caches_the_file_sources_of_a_mixture(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEBOX_CACHE_DIR", str(tmp_path / "cache"))
    spec = write_set(tmp_path / "set", 3)
    env = gym.make(ENV, config={"dataset": {"synthetic": 1, spec: 1}, "image_cache": 1, "target": "any"})
    sources = env.unwrapped.dataset.sources
    assert isinstance(sources[0], RenderedImages) and isinstance(sources[1], CachedImages)  # files' cache first
    assert len(list((tmp_path / "cache").glob("*.u8"))) == 1
    seen = {env.reset(seed=s)[1]["target"].tobytes() for s in range(12)}
    assert len(seen) > 3  # synthetic and real episodes
