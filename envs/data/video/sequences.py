"""The video record: a lazily decoded sequence of frames with one box per frame, and the video dataset protocol.

A sequence exposes frames lazily (``frame(i)``) because real sequences are hundreds of JPEGs and synthetic ones are
rendered on demand; only the boxes are held in memory.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from facebox.envs.data.images import read_image, to_rgb_uint8
from facebox.envs.data.record import Dataset

__all__ = ["FrameFolderSequence", "SequenceList", "VideoDataset", "VideoFileSequence", "VideoSequence", "open_capture"]


class VideoSequence(ABC):
    """One annotated video: ``len(seq)`` frames, ``seq.frame(i)`` RGB uint8 HxWx3, ``seq.boxes`` float32
    ``[T, 4]`` xyxy (right/bottom edges), a row of NaN where the target is absent or unannotated.

    Subclasses implement ``_read(i)``. ``frame`` keeps the last few frames, because an environment step reads the
    current frame several times (observation, reward, rendering); cached frames are read-only so that no caller can
    change what the next caller sees (copy before drawing on one).
    """

    name: str
    boxes: np.ndarray
    kind: str | None = None
    cache_size = 4

    def __len__(self) -> int:
        return len(self.boxes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {len(self)} frames)"

    def frame(self, index: int) -> np.ndarray:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"{self.name}: frame {index} out of range for a sequence of {n} frames")
        index %= n
        cache = self.__dict__.setdefault("_frames", OrderedDict())
        if index in cache:
            cache.move_to_end(index)
            return cache[index]
        image = self._read(index)
        image.setflags(write=False)
        cache[index] = image
        if len(cache) > self.cache_size:
            cache.popitem(last=False)
        return image

    @abstractmethod
    def _read(self, index: int) -> np.ndarray:
        """Decode frame ``index`` (already range-checked)."""

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_frames", None)  # pickles (env copies, subprocess workers) carry parameters, not pixels
        return state


class VideoDataset(Dataset[VideoSequence]):
    """Protocol of every video source: items are :class:`VideoSequence` objects."""

    unit = "sequences"


class SequenceList(VideoDataset):
    """Sequences found by a loader, indexable by position; ``names`` lists them in order."""

    def __init__(self, sequences: Sequence[VideoSequence], name: str) -> None:
        self.sequences = list(sequences)
        self.name = name
        if not self.sequences:
            raise ValueError(f"{name}: no annotated sequences found")

    def __repr__(self) -> str:
        return f"SequenceList({self.name!r}, {len(self)} sequences)"

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> VideoSequence:
        return self.sequences[self._check_index(index)]

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sequences]


class FrameFolderSequence(VideoSequence):
    """Frames stored as numbered image files, decoded on access by :func:`images.read_image`."""

    def __init__(self, name: str, paths: Sequence[str | os.PathLike], boxes: np.ndarray) -> None:
        if len(paths) != len(boxes):
            raise ValueError(f"{name}: {len(paths)} frames for {len(boxes)} boxes")
        self.name = name
        self.paths = [os.fspath(p) for p in paths]
        self.boxes = np.asarray(boxes, np.float32)

    def _read(self, index: int) -> np.ndarray:
        return read_image(self.paths[index])


class VideoFileSequence(VideoSequence):
    """Frames decoded from a video file through one ``cv2.VideoCapture``.

    Decoding is sequential in every codec, so the capture is kept open and read forward; it is re-positioned with
    ``CAP_PROP_POS_FRAMES`` only when a caller goes back or skips ahead (a seek costs a decode from the previous
    key frame). The capture is opened on first use and not pickled.
    """

    def __init__(self, path: str | os.PathLike, boxes: np.ndarray, name: str = "") -> None:
        self.path = os.fspath(path)
        self.name = name or Path(self.path).stem
        self.boxes = np.asarray(boxes, np.float32)
        self._capture: cv2.VideoCapture | None = None
        self._next = 0  # index of the frame the capture decodes next

    def _read(self, index: int) -> np.ndarray:
        if self._capture is None:
            self._capture = open_capture(self.path)
            self._next = 0
        if index != self._next:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, pixels = self._capture.read()
        if not ok:
            self._next = -1  # unknown position: the next read seeks
            raise ValueError(f"{self.path}: cannot decode frame {index} of {len(self)} (file truncated or corrupt?)")
        self._next = index + 1
        return to_rgb_uint8(pixels, where=f"{self.path} frame {index}")

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["_capture"], state["_next"] = None, 0
        return state


def open_capture(path: str) -> cv2.VideoCapture:
    """An open ``cv2.VideoCapture``, or ``ValueError``: OpenCV itself only returns a capture that reads nothing."""
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise ValueError(f"{path}: OpenCV cannot open this video (unknown container or codec)")
    return capture
