"""One video file (anything ``cv2.VideoCapture`` opens) with its boxes in a CSV, 0-based frames and pixels."""

from __future__ import annotations

import math
import os

import cv2
import numpy as np

from facebox.envs.data.parsing import csv_rows, existing, floats
from facebox.envs.data.record import validate_boxes
from facebox.envs.data.video.common import to_xyxy
from facebox.envs.data.video.sequences import SequenceList, VideoFileSequence, open_capture

__all__ = ["load_video"]

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
    video = existing(path, "file or folder")
    table = existing(video.parent / boxes if boxes else video.with_suffix(".csv"), "file or folder")
    capture = open_capture(str(video))
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
        values = floats(fields)
        if values is None or len(values) != 5 or not values[0].is_integer():
            raise ValueError(f"{at}: expected a frame index and 4 numbers ({','.join(header)}), got {fields}")
        frame, *values = values
        index = int(frame)
        if not 0 <= index < count:
            raise ValueError(f"{at}: frame {index} is outside the video's {count} frames (0-based)")
        if index in seen:
            raise ValueError(f"{at}: frame {index} already has a box (at {seen[index]})")
        seen[index] = at
        if xywh:
            out[index] = to_xyxy(np.array([values]), [at], origin=0.0)[0]
        elif not any(math.isnan(v) for v in values):
            validate_boxes([values], None, at)
            out[index] = values
    return SequenceList([VideoFileSequence(video, out, video.stem)], f"video:{video}")
