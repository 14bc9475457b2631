"""Shared fixtures: a tiny in-memory face set with known boxes, the location of the real shared data, and the
property suites' hypothesis profiles."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from facebox.envs.data import FaceDataset, FaceImage

# The property suites try the same examples on every run, so a CI failure reproduces; `--hypothesis-profile
# explore` draws new ones (and keeps failures in .hypothesis/).
settings.register_profile("default", derandomize=True, database=None)
settings.register_profile("explore")
settings.load_profile("default")


class BoxesOnNoise(FaceDataset):
    """Noise images with given face boxes: the env tests need exact, hand-checkable geometry."""

    def __init__(self, boxes_per_image: list[list[list[float]]], size: tuple[int, int] = (200, 200)) -> None:
        self.boxes = boxes_per_image
        self.size = size

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index: int) -> FaceImage:
        rng = np.random.default_rng(index)
        image = rng.integers(0, 256, (*self.size, 3), dtype=np.uint8)
        return FaceImage(image, self.boxes[self._check_index(index)], source=f"noise[{index}]")


@pytest.fixture
def boxes_on_noise():
    return BoxesOnNoise


def shared_data_dir() -> Path:
    """``../shared/data`` beside the checkout, or ``$FACEBOX_SHARED_DATA``."""
    return Path(os.environ.get("FACEBOX_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture
def shared_data():
    root = shared_data_dir()
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root}")
    return root
