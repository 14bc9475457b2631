"""What the frame-folder loaders share: finding sequence folders and numbered frames, reading ``x,y,w,h`` ground
truth one line per frame, and converting it with the absent-target conventions of tracking benchmarks.

Why strict: a ground-truth file that does not match its frames shifts every box of the sequence by some frames,
which silently ruins any tracking result; so a malformed line (named ``file:line``), a blank line inside the file
or a missing frame file stops the load.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from facebox.config import ConfigError
from facebox.envs.boxes import xywh_to_xyxy
from facebox.envs.data.parsing import IMAGE_SUFFIXES, floats, read_text

__all__ = ["frame_paths", "numbered_frames", "read_xywh", "sequence_folders", "to_xyxy"]

_SEPARATORS = re.compile(r"[,\s]+")


def sequence_folders(
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
            raise ConfigError(f"{path}: no sequence named {unknown[0]!r}; found {sorted(found)}")
        folders = [found[s] for s in sequences]
    return folders


def numbered_frames(folder: Path) -> dict[int, Path]:
    """Image files named by their frame number (``0001.jpg``, ``00000001.jpg``, ...), keyed by that number."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: frame folder not found")
    return {int(p.stem): p for p in folder.iterdir() if p.stem.isdigit() and p.suffix.lower() in IMAGE_SUFFIXES}


def frame_paths(frames: dict[int, Path], numbers: range, folder: Path) -> list[Path]:
    """The files of ``numbers`` in order, or the name of the first one that is missing."""
    if not frames:
        raise FileNotFoundError(f"{folder}: no numbered frame images (e.g. 0001.jpg)")
    example = next(iter(frames.values()))
    width = len(example.stem)
    for number in numbers:
        if number not in frames:
            raise FileNotFoundError(f"{folder / f'{number:0{width}d}{example.suffix}'}: frame {number} is missing")
    return [frames[n] for n in numbers]


def read_xywh(path: Path) -> tuple[np.ndarray, list[str]]:
    """One ``x, y, w, h`` row per line, separated by commas, tabs or spaces (CRLF tolerated); NaN allowed.

    Trailing blank lines are dropped; a blank line inside the file is an error, since it would shift every later
    box onto the wrong frame. Returns the rows (float64 ``[N, 4]``) and the ``file:line`` of each.
    """
    lines = read_text(path).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    rows, where = [], []
    for no, line in enumerate(lines, 1):
        at = f"{path}:{no}"
        values = floats(f for f in _SEPARATORS.split(line.strip()) if f) or []
        if len(values) != 4:
            raise ValueError(f"{at}: expected 4 numbers 'x,y,w,h' separated by commas, tabs or spaces, got {line!r}")
        rows.append(values)
        where.append(at)
    return np.array(rows, np.float64).reshape(-1, 4), where


def to_xyxy(xywh: np.ndarray, where: list[str], origin: float, absent: np.ndarray | None = None) -> np.ndarray:
    """Convert ``x, y, w, h`` rows to 0-based xyxy (:func:`boxes.xywh_to_xyxy` with ``origin``), NaN for absent
    targets.

    A target is absent where ``absent`` says so, where a value is NaN, or on an all-zero line (both conventions
    of tracking benchmarks for "not visible"). Any other row needs a positive width and height.
    """
    gone = np.isnan(xywh).any(axis=1) | (xywh == 0).all(axis=1)
    if absent is not None:
        gone |= absent
    for i in np.flatnonzero(~gone & ((xywh[:, 2] <= 0) | (xywh[:, 3] <= 0))):
        raise ValueError(f"{where[i]}: box {xywh[i].tolist()} (x, y, w, h) needs a positive width and height")
    out = xywh_to_xyxy(xywh, origin)
    out[gone] = np.nan
    return out.astype(np.float32)
