"""OTB-2013/2015: ``SEQ/img/%04d.jpg`` + ``SEQ/groundtruth_rect.txt`` in MATLAB 1-based ``x,y,w,h``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from facebox.config import ConfigError
from facebox.envs.data.parsing import existing
from facebox.envs.data.video.common import frame_paths, numbered_frames, read_xywh, sequence_folders, to_xyxy
from facebox.envs.data.video.sequences import FrameFolderSequence, SequenceList

__all__ = ["OTB_FRAME_RANGES", "load_otb"]

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
        raise ConfigError(f"frame_ranges must map sequence names to (first, last) frames, got {type(ranges).__name__}")
    root = existing(path, "file or folder")
    result = []
    for folder in sequence_folders(root, _otb_annotations, sequences, "OTB"):
        annotations = [a for a in _otb_annotations(folder) if a.stat().st_size > 0]
        frames = numbered_frames(folder / "img")
        for annotation in annotations:
            xywh, where = read_xywh(annotation)
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
            paths = frame_paths(frames, range(first, first + n), folder / "img")
            suffix = annotation.name.removeprefix("groundtruth_rect").removesuffix(".txt")
            result.append(FrameFolderSequence(folder.name + suffix, paths, to_xyxy(xywh, where, origin=1.0)))
    return SequenceList(result, f"otb:{root}")
