"""Video sources: the sequence record and the dataset protocol shared by synthetic and real videos.

A sequence exposes frames lazily (``frame(i)``) because real sequences are hundreds of JPEGs and synthetic
ones are rendered on demand; only the boxes are held in memory.
"""

from __future__ import annotations

import numpy as np

__all__ = ["VideoSequence", "VideoDataset"]


class VideoSequence:
    """One annotated video: ``len(seq)`` frames, ``seq.frame(i)`` RGB uint8 HxWx3, ``seq.boxes`` float32
    ``[T, 4]`` xyxy (right/bottom edges), a row of NaN where the target is absent or unannotated.
    """

    name: str
    boxes: np.ndarray
    kind: str | None = None

    def __len__(self) -> int:
        return len(self.boxes)

    def frame(self, index: int) -> np.ndarray:
        raise NotImplementedError


class VideoDataset:
    """Protocol of every video source: ``len`` (sequences), indexing, and sampling with a caller's generator."""

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> VideoSequence:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator) -> VideoSequence:
        n = len(self)
        if n == 0:
            raise ValueError(f"{self!r} is empty: nothing to sample")
        return self[int(rng.integers(n))]
