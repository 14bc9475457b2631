"""Helpers the format tests share: tiny images and annotation files written on the fly, and error expectations.

Imported by name (``from annotation_files import ...``): pytest puts each test file's folder on ``sys.path``.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest


def write_image(path: Path, width: int = 100, height: int = 80, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), pixels)
    return path


def write_text(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


def raises_at(exc: type[Exception], file: Path, line: int | str):
    """Expect ``exc`` whose message names ``file:line`` (or ``file: key``)."""
    sep = ":" if isinstance(line, int) else ": "
    return pytest.raises(exc, match=re.escape(f"{file}{sep}{line}"))


def boxes_of(ds) -> list[list[float]]:
    return [e.boxes.tolist() for e in ds.entries]
