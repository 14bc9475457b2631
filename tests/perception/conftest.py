"""Stand-in real sources for the perception tests: noise photos with known boxes, written to disk."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facebox.envs.data import ListDataset
from facebox.envs.data.record import Entry


@pytest.fixture
def noise_photos(tmp_path):
    """``make(count, (h, w), first, second)``: ``count`` noise images, image ``i`` with the face ``first(i)`` and the
    odd ones also with ``second``."""

    def make(count: int, shape: tuple[int, int], first, second) -> ListDataset:
        entries = []
        for i in range(count):
            path = tmp_path / f"{i}.png"
            cv2.imwrite(str(path), np.random.default_rng(i).integers(0, 256, (*shape, 3), dtype=np.uint8))
            boxes = [first(i)] + ([second] if i % 2 else [])
            entries.append(Entry(str(path), np.asarray(boxes, np.float32), ("human",) * len(boxes)))
        return ListDataset(entries, "photos")

    return make
