"""GOT-10k: ``SEQ/%08d.jpg`` + ``SEQ/groundtruth.txt`` in 0-based ``x,y,w,h`` (+ ``absence.label``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from facebox.envs.data.parsing import existing, read_text
from facebox.envs.data.video.common import frame_paths, numbered_frames, read_xywh, sequence_folders, to_xyxy
from facebox.envs.data.video.sequences import FrameFolderSequence, SequenceList

__all__ = ["load_got10k"]


def _read_absence(path: Path, n: int) -> np.ndarray | None:
    """GOT-10k's ``absence.label``: one 0 (visible) or 1 (absent) per frame; None when the file is not there."""
    if not path.exists():
        return None
    lines = read_text(path).split()
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
    root = existing(path, "file or folder")
    listing = root / "list.txt"
    if not sequences and listing.is_file():
        sequences = tuple(read_text(listing).split())
    result = []
    for folder in sequence_folders(root, lambda p: (p / "groundtruth.txt").is_file(), sequences, "GOT-10k"):
        annotation = folder / "groundtruth.txt"
        xywh, where = read_xywh(annotation)
        frames = numbered_frames(folder)
        count = max(frames, default=0)
        if len(xywh) == 1 and count > 1:
            xywh = np.concatenate([xywh, np.full((count - 1, 4), np.nan)])
        elif len(xywh) != count:
            raise ValueError(f"{annotation}: {len(xywh)} ground-truth lines for {count} frames in {folder}")
        absent = _read_absence(folder / "absence.label", count)
        paths = frame_paths(frames, range(1, count + 1), folder)
        result.append(FrameFolderSequence(folder.name, paths, to_xyxy(xywh, where, origin=0.0, absent=absent)))
    return SequenceList(result, f"got10k:{root}")
