"""Shared fixtures: a tiny in-memory face set with known boxes, and the location of the real shared data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from facebox.envs.data import FaceDataset, FaceImage


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
