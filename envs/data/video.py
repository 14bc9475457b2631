"""Video sources: the sequence record, the dataset protocol, and loaders for real tracking data.

A sequence exposes frames lazily (``frame(i)``) because real sequences are hundreds of JPEGs and synthetic ones are
rendered on demand; only the boxes are held in memory. Boxes follow ``record.py``: float32 xyxy, 0-based, ``x2``/``y2``
the right/bottom pixel *edges*; a row of NaN marks a frame where the target is absent or not annotated. Real boxes are
kept as annotated (trackers' ground truth may poke past the frame edge; checking it would mean decoding every frame
at load time), synthetic ones are clipped to the frame.

Loaders, and the box conventions they convert (all ``x, y, w, h`` become ``x1 = x - offset, x2 = x1 + w``):

* OTB (:func:`load_otb`): ``SEQ/img/%04d.jpg`` + ``SEQ/groundtruth_rect.txt``; MATLAB 1-based, offset 1.
* GOT-10k (:func:`load_got10k`): ``SEQ/%08d.jpg`` + ``SEQ/groundtruth.txt`` (+ ``absence.label``); 0-based, offset 0.
* A video file + CSV (:func:`load_video`): ``frame,x,y,w,h`` or ``frame,x1,y1,x2,y2``; 0-based, used as given.

Why errors are raised at load time: a ground-truth file that does not match its frames shifts every box of the
sequence by some frames, which silently ruins any tracking result; so a line count that differs from the frame count,
a malformed line (named ``file:line``) or a missing frame file stops the load.
"""

from __future__ import annotations

import math
import os
import re
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from facebox.envs.data.formats import csv_rows
from facebox.envs.data.record import read_image, to_rgb_uint8

__all__ = [
    "OTB_FRAME_RANGES",
    "FrameFolderSequence",
    "SequenceList",
    "VideoDataset",
    "VideoFileSequence",
    "VideoSequence",
    "load_got10k",
    "load_otb",
    "load_video",
]

# Sequences whose ground truth covers only part of the frames in ``img/``: name -> (first, last) 1-based frame
# numbers, inclusive; ground-truth line i belongs to frame first + i - 1. From the OTB benchmark page as implemented
# by the got10k toolkit (got10k/datasets/otb.py).
OTB_FRAME_RANGES: dict[str, tuple[int, int]] = {
    "David": (300, 770),
    "Football1": (1, 74),
    "Freeman3": (1, 460),
    "Freeman4": (1, 283),
    "Diving": (1, 215),
}
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
_SEPARATORS = re.compile(r"[,\s]+")


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


class VideoDataset(ABC):
    """Protocol of every video source: ``len`` (sequences), indexing, and sampling with a caller's generator."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of items."""

    @abstractmethod
    def __getitem__(self, index: int) -> VideoSequence:
        """The item at ``index`` (negative indices count from the end)."""

    def sample(self, rng: np.random.Generator) -> VideoSequence:
        n = len(self)
        if n == 0:
            raise ValueError(f"{self!r} is empty: nothing to sample")
        return self[int(rng.integers(n))]


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
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"{self.name}: index {index} out of range for {n} sequences")
        return self.sequences[index]

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sequences]


class FrameFolderSequence(VideoSequence):
    """Frames stored as numbered image files, decoded on access by :func:`record.read_image`."""

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
            self._capture = _open_capture(self.path)
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


def _open_capture(path: str) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise ValueError(f"{path}: OpenCV cannot open this video (unknown container or codec)")
    return capture


# --------------------------------------------------------------------------------------------- shared helpers


def _exists(path: str | os.PathLike) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    return path


def _sequence_folders(
    path: Path, has_annotation: Callable[[Path], object], sequences: tuple[str, ...], what: str
) -> list[Path]:
    """``path`` itself if it is one sequence, else its annotated subfolders, optionally only those named."""
    folders = [path] if has_annotation(path) else sorted(p for p in path.iterdir() if p.is_dir() and has_annotation(p))
    if not folders:
        raise FileNotFoundError(f"{path}: neither a {what} sequence folder nor a folder of them")
    if sequences:
        found = {f.name: f for f in folders}
        unknown = [s for s in sequences if s not in found]
        if unknown:
            raise ValueError(f"{path}: no sequence named {unknown[0]!r}; found {sorted(found)}")
        folders = [found[s] for s in sequences]
    return folders


def _numbered_frames(folder: Path) -> dict[int, Path]:
    """Image files named by their frame number (``0001.jpg``, ``00000001.jpg``, ...), keyed by that number."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: frame folder not found")
    return {int(p.stem): p for p in folder.iterdir() if p.stem.isdigit() and p.suffix.lower() in _IMAGE_SUFFIXES}


def _frame_paths(frames: dict[int, Path], numbers: range, folder: Path) -> list[Path]:
    """The files of ``numbers`` in order, or the name of the first one that is missing."""
    if not frames:
        raise FileNotFoundError(f"{folder}: no numbered frame images (e.g. 0001.jpg)")
    example = next(iter(frames.values()))
    width = len(example.stem)
    for number in numbers:
        if number not in frames:
            raise FileNotFoundError(f"{folder / f'{number:0{width}d}{example.suffix}'}: frame {number} is missing")
    return [frames[n] for n in numbers]


def _read_xywh(path: Path) -> tuple[np.ndarray, list[str]]:
    """One ``x, y, w, h`` row per line, separated by commas, tabs or spaces (CRLF tolerated); NaN allowed.

    Trailing blank lines are dropped; a blank line inside the file is an error, since it would shift every later
    box onto the wrong frame. Returns the rows (float64 ``[N, 4]``) and the ``file:line`` of each.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not a text file ({e.reason} at byte {e.start})") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    rows, where = [], []
    for no, line in enumerate(lines, 1):
        at = f"{path}:{no}"
        fields = [f for f in _SEPARATORS.split(line.strip()) if f]
        try:
            values = [float(f) for f in fields]
        except ValueError:
            values = []
        if len(values) != 4:
            raise ValueError(f"{at}: expected 4 numbers 'x,y,w,h' separated by commas, tabs or spaces, got {line!r}")
        rows.append(values)
        where.append(at)
    return np.array(rows, np.float64).reshape(-1, 4), where


def _to_xyxy(xywh: np.ndarray, where: list[str], offset: float, absent: np.ndarray | None = None) -> np.ndarray:
    """Convert ``x, y, w, h`` rows to 0-based xyxy (``x1 = x - offset``), NaN for absent targets.

    A target is absent where ``absent`` says so, where a value is NaN, or on an all-zero line (both conventions
    of tracking benchmarks for "not visible"). Any other row needs a positive width and height.
    """
    gone = np.isnan(xywh).any(axis=1) | (xywh == 0).all(axis=1)
    if absent is not None:
        gone |= absent
    for i in np.flatnonzero(~gone & ((xywh[:, 2] <= 0) | (xywh[:, 3] <= 0))):
        raise ValueError(f"{where[i]}: box {xywh[i].tolist()} (x, y, w, h) needs a positive width and height")
    out = np.concatenate([xywh[:, :2] - offset, xywh[:, :2] - offset + xywh[:, 2:]], axis=1)
    out[gone] = np.nan
    return out.astype(np.float32)


# --------------------------------------------------------------------------------------------------------- OTB


def _otb_annotations(folder: Path) -> list[Path]:
    """``groundtruth_rect.txt``, or ``groundtruth_rect.1.txt``, ``.2.txt`` for OTB's two-target sequences."""
    return sorted(folder.glob("groundtruth_rect*.txt"))


def load_otb(
    path: str | os.PathLike,
    sequences: tuple[str, ...] = (),
    frame_ranges: Mapping[str, tuple[int, int]] | None = None,
) -> SequenceList:
    """OTB-2013/2015 sequences: ``path`` is one sequence folder or a folder of them (``sequences`` picks some).

    A sequence folder holds ``img/%04d.jpg`` and ``groundtruth_rect.txt``: one ``x,y,w,h`` line per frame, separated
    by commas, tabs or spaces, in MATLAB 1-based pixels, so ``x1 = x - 1, x2 = x - 1 + w``. A line of NaN or
    ``0,0,0,0`` means the target is not visible and becomes a NaN row. Sequences annotated on part of their frames
    are listed in ``frame_ranges`` (default :data:`OTB_FRAME_RANGES`: David uses frames 300-770, ...): line i then
    belongs to the i-th frame of that range, and frames outside it are not part of the sequence. Two-target
    sequences (``groundtruth_rect.1.txt``, ``.2.txt``: Jogging, Skating2) become ``Jogging.1`` and ``Jogging.2``;
    an empty annotation file (Human4's first target) is skipped.

    Raises, naming the file: a line that is not four numbers (``file:line``), a non-positive width or height, a
    line count that differs from the number of frames (frames 1..N in ``img/``, or the frame range), a missing
    frame file.
    """
    ranges = OTB_FRAME_RANGES if frame_ranges is None else frame_ranges
    if not isinstance(ranges, Mapping):
        raise TypeError(f"frame_ranges must map sequence names to (first, last) frames, got {type(ranges).__name__}")
    root = _exists(path)
    result = []
    for folder in _sequence_folders(root, _otb_annotations, sequences, "OTB"):
        annotations = [a for a in _otb_annotations(folder) if a.stat().st_size > 0]
        frames = _numbered_frames(folder / "img")
        for annotation in annotations:
            xywh, where = _read_xywh(annotation)
            n = len(xywh)
            if folder.name in ranges:
                first, last = ranges[folder.name]
                if n != last - first + 1:
                    raise ValueError(
                        f"{annotation}: {n} ground-truth lines, but {folder.name} is annotated on frames "
                        f"{first}-{last} ({last - first + 1} frames; see frame_ranges)"
                    )
            else:
                first, last = 1, max(frames, default=0)
                if n != last:
                    raise ValueError(
                        f"{annotation}: {n} ground-truth lines for {last} frames in {folder / 'img'} "
                        f"(one line per frame; a sequence annotated on part of its frames needs a frame_ranges entry)"
                    )
            paths = _frame_paths(frames, range(first, first + n), folder / "img")
            suffix = annotation.name.removeprefix("groundtruth_rect").removesuffix(".txt")
            result.append(FrameFolderSequence(folder.name + suffix, paths, _to_xyxy(xywh, where, offset=1.0)))
    return SequenceList(result, f"otb:{root}")


# ----------------------------------------------------------------------------------------------------- GOT-10k


def _read_absence(path: Path, n: int) -> np.ndarray | None:
    """GOT-10k's ``absence.label``: one 0 (visible) or 1 (absent) per frame; None when the file is not there."""
    if not path.exists():
        return None
    lines = path.read_text(encoding="utf-8-sig").split()
    if len(lines) != n:
        raise ValueError(f"{path}: {len(lines)} labels for {n} frames")
    bad = next((i for i, v in enumerate(lines) if v not in ("0", "1")), None)
    if bad is not None:
        raise ValueError(f"{path}: label {bad + 1} is {lines[bad]!r}; expected 0 (visible) or 1 (absent)")
    return np.array(lines) == "1"


def load_got10k(path: str | os.PathLike, sequences: tuple[str, ...] = ()) -> SequenceList:
    """GOT-10k sequences: ``path`` is one sequence folder or a split folder (``train``, ``val``, ``test``).

    A sequence folder holds ``%08d.jpg`` frames and ``groundtruth.txt`` with one ``x,y,w,h`` line per frame. GOT-10k
    boxes are 0-based: the official toolkit uses them unchanged (it adds no offset for any dataset, and the OTB
    files it reads unchanged are compared against trackers initialised from them), so ``x1 = x, x2 = x + w``.
    ``absence.label`` (1 = target absent, when present) turns rows into NaN, as do NaN and all-zero lines. A split's
    ``list.txt``, when present, gives the order and the sequences; ``sequences`` picks some by name.

    The test split annotates only the first frame: a one-line ``groundtruth.txt`` gives frame 0 its box and every
    later frame a NaN row (trackers are scored on the evaluation server). Any other line count that differs from
    the frame count raises, as does a malformed line (``file:line``) or a gap in the frame numbers.
    """
    root = _exists(path)
    listing = root / "list.txt"
    if not sequences and listing.is_file():
        sequences = tuple(listing.read_text(encoding="utf-8-sig").split())
    result = []
    for folder in _sequence_folders(root, lambda p: (p / "groundtruth.txt").is_file(), sequences, "GOT-10k"):
        annotation = folder / "groundtruth.txt"
        xywh, where = _read_xywh(annotation)
        frames = _numbered_frames(folder)
        count = max(frames, default=0)
        if len(xywh) == 1 and count > 1:
            xywh = np.concatenate([xywh, np.full((count - 1, 4), np.nan)])
        elif len(xywh) != count:
            raise ValueError(f"{annotation}: {len(xywh)} ground-truth lines for {count} frames in {folder}")
        absent = _read_absence(folder / "absence.label", count)
        paths = _frame_paths(frames, range(1, count + 1), folder)
        result.append(FrameFolderSequence(folder.name, paths, _to_xyxy(xywh, where, offset=0.0, absent=absent)))
    return SequenceList(result, f"got10k:{root}")


# ------------------------------------------------------------------------------------------- video file + CSV

_VIDEO_COLUMNS: dict[tuple[str, ...], bool] = {  # header -> boxes given as x, y, w, h
    ("frame", "x", "y", "w", "h"): True,
    ("frame", "x1", "y1", "x2", "y2"): False,
}


def load_video(path: str | os.PathLike, boxes: str = "") -> SequenceList:
    """One video file (anything ``cv2.VideoCapture`` opens) with its boxes in a CSV.

    ``boxes`` is the CSV (default: the video's path with the suffix ``.csv``; a relative path is taken from the
    video's folder). Its header is ``frame,x,y,w,h`` or ``frame,x1,y1,x2,y2`` (comma, tab or whitespace separated,
    ``#`` comments): 0-based frame indices and 0-based pixel coordinates, ``x2 = x + w``. Frames without a row, and
    rows of NaN (or ``0,0,0,0`` as x, y, w, h), are NaN: target absent. Raises on an unknown header, a malformed
    row, a frame index outside the video or given twice, and a non-positive width or height (``file:line``).
    """
    video = _exists(path)
    table = _exists(video.parent / boxes if boxes else video.with_suffix(".csv"))
    capture = _open_capture(str(video))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    if count <= 0:
        raise ValueError(f"{video}: the container does not state its frame count")
    rows = csv_rows(table)
    header = tuple(f.strip().lower() for f in rows[0][1])
    if header not in _VIDEO_COLUMNS:
        raise ValueError(f"{table}:{rows[0][0]}: header {','.join(header)!r}; expected one of {list(_VIDEO_COLUMNS)}")
    xywh = _VIDEO_COLUMNS[header]
    out = np.full((count, 4), np.nan, np.float64)
    seen: dict[int, str] = {}
    for no, fields in rows[1:]:
        at = f"{table}:{no}"
        try:
            frame, *values = (float(f) for f in fields)
        except ValueError:
            values = []
        if len(values) != 4 or not frame.is_integer():
            raise ValueError(f"{at}: expected a frame index and 4 numbers ({','.join(header)}), got {fields}")
        index = int(frame)
        if not 0 <= index < count:
            raise ValueError(f"{at}: frame {index} is outside the video's {count} frames (0-based)")
        if index in seen:
            raise ValueError(f"{at}: frame {index} already has a box (at {seen[index]})")
        seen[index] = at
        if xywh:
            out[index] = _to_xyxy(np.array([values]), [at], offset=0.0)[0]
        elif not any(math.isnan(v) for v in values):
            x1, y1, x2, y2 = values
            if x2 <= x1 or y2 <= y1:
                raise ValueError(f"{at}: box {values} (x1, y1, x2, y2) has zero or negative area")
            out[index] = values
    return SequenceList([VideoFileSequence(video, out, video.stem)], f"video:{video}")
