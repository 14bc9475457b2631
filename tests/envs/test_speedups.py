"""What makes the single env fast changes nothing it returns: the cache of drawn images, the lazily built pyramid."""

from __future__ import annotations

import cv2
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence

import facebox  # noqa: F401
from facebox.envs.data import open_dataset
from facebox.envs.data.cache import RenderedImages, with_cache
from facebox.envs.data.synthetic import SyntheticFaces
from facebox.envs.observations import Pyramid

ENV = "facebox/FaceLocalization-v0"


@pytest.fixture
def fresh_cache(monkeypatch):
    """An empty process cache with no limit asked for yet (other tests' envs share the class's)."""
    monkeypatch.setattr(RenderedImages, "_images", type(RenderedImages._images)())
    monkeypatch.setattr(RenderedImages, "_limit", 0)
    monkeypatch.setattr(RenderedImages, "_used", 0)


def test_drawn_images_are_served_again_read_only_within_the_limit(fresh_cache, monkeypatch):
    source = SyntheticFaces(seed=2, size=64, length=20)
    one = 64 * 64 * 3
    cached = with_cache(source, limit_mb=3.5 * one / 2**20)
    assert isinstance(cached, RenderedImages) and len(cached) == 20
    drawn = []
    draw = SyntheticFaces.__getitem__
    monkeypatch.setattr(SyntheticFaces, "__getitem__", lambda self, i: drawn.append(i) or draw(self, i))
    for i in [0, 1, 2, 0, 1, 2, -18]:  # -18 is image 2
        record = cached[i]
        expected = draw(source, i)
        assert np.array_equal(record.image, expected.image) and np.array_equal(record.boxes, expected.boxes)
    assert drawn == [0, 1, 2] and not cached[0].image.flags.writeable
    for i in range(3, 10):
        cached[i]
    assert RenderedImages._used <= 3.5 * one and len(RenderedImages._images) == 3  # the least recently used went
    again = with_cache(SyntheticFaces(seed=2, size=64, length=20), 1.0)  # equal parameters: the same images
    drawn.clear()
    assert np.array_equal(again[9].image, draw(source, 9).image) and drawn == []
    other = with_cache(SyntheticFaces(seed=3, size=64, length=20), 1.0)
    assert not np.array_equal(other[9].image, again[9].image) and drawn == [9]


def test_an_env_with_the_cache_returns_what_it_returns_without(fresh_cache):
    def trace(config):
        env = gym.make(ENV, config={"dataset": "synthetic?size=64&length=12", "observation": {"size": 16}, **config})
        rng, out = np.random.default_rng(0), [env.reset(seed=4)]
        for _ in range(300):  # ~30 episodes over 12 images: most of them served from the cache
            out.append(env.step(int(rng.integers(9))))
            if out[-1][2] or out[-1][3]:
                out.append(env.reset())
        return out

    assert data_equivalence(trace({"image_cache": 1}), trace({}), exact=True)
    assert len(RenderedImages._images) == 12


def test_a_mixture_caches_files_first_then_drawn_images_with_what_is_left(fresh_cache, tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    cv2.imwrite(str(folder / "0.png"), np.zeros((100, 100, 3), np.uint8))
    (folder / "faces.csv").write_text("image,x1,y1,x2,y2\n0.png,10,10,50,50\n")
    mixed = open_dataset({"synthetic?size=64": 1, f"csv:{folder / 'faces.csv'}": 1})
    cached = with_cache(mixed, limit_mb=1.0, directory=tmp_path / "cache")
    drawn, files = cached.sources
    assert files.cached_mb == pytest.approx(100 * 100 * 3 / 2**20)
    assert isinstance(drawn, RenderedImages) and drawn.limit_mb == pytest.approx(1.0 - files.cached_mb)


@pytest.mark.parametrize("shape", [(128, 128), (97, 203), (31, 40), (600, 450)])
def test_the_lazy_pyramid_crops_as_the_whole_pyramid(shape):
    image = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    eager = [image]
    while min(eager[-1].shape[:2]) >= 32:
        eager.append(cv2.pyrDown(eager[-1]))
    lazy = Pyramid(image)
    assert lazy.depth == len(eager) and len(lazy.levels) == 1
    h, w = shape
    for box in ([0, 0, w, h], [w / 4, h / 5, w / 2, h / 2], [3.5, 2.25, 12.0, 10.0], [0, 0, w, h]):
        box = np.array(box, dtype=np.float64)
        crop = lazy.crop(box, 16, 0.1)
        cw, ch = (box[2] - box[0]) * 1.2, (box[3] - box[1]) * 1.2
        level = min(int(np.log2(max(min(cw, ch) / 16, 1.0))), len(eager) - 1)
        whole = Pyramid.__new__(Pyramid)
        whole.levels, whole.depth = eager, len(eager)
        assert np.array_equal(crop, whole.crop(box, 16, 0.1))
        assert len(lazy.levels) >= level + 1
    assert len(lazy.levels) <= len(eager)
