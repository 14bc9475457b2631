"""Reading annotation files, shared by the still-image formats and the video loaders.

Every loader reports a bad annotation as ``file:line`` (or ``file: key``) so that a broken download stops a run
before training starts; these helpers are where files are found, decoded and split into numbered lines, rows and
numbers, so that every format fails with the same wording.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["IMAGE_SUFFIXES", "csv_rows", "existing", "floats", "numbers", "read_text", "text_lines", "whole_numbers"]

_DELIMITERS = ("\t", ",", ";")  # in order of precedence on ties

# What read_image decodes: annotation files often name images without extension, and frame folders hold other files.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


def existing(path: str | os.PathLike, what: str = "annotation file or dataset folder") -> Path:
    """``path`` (``~`` expanded) if it exists, else ``FileNotFoundError`` saying what was expected there."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such {what}")
    return path


def read_text(path: Path) -> str:
    """The file as text (UTF-8, a byte-order mark dropped); a binary file raises naming it, not a codec error."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def text_lines(path: Path) -> list[tuple[int, str]]:
    """The non-blank lines of a text file with their 1-based numbers (newline removed, nothing else)."""
    return [(no, line) for no, line in enumerate(read_text(path).splitlines(), 1) if line.strip()]


def csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    """Rows of a tab, comma, semicolon or whitespace separated file; '#' lines are comments.

    The delimiter is the one of tab, comma and semicolon found most often in the first line (ties in that order),
    whitespace when none is: spreadsheets in locales with a decimal comma write semicolons.
    """
    lines = [(no, line) for no, line in text_lines(path) if not line.lstrip().startswith("#")]
    if not lines:
        raise ValueError(f"{path}: no rows (only blank or '#' comment lines)")
    first = lines[0][1]
    delimiter = max(_DELIMITERS, key=first.count)
    if delimiter in first:
        return [(no, next(csv.reader([line], delimiter=delimiter))) for no, line in lines]
    return [(no, line.split()) for no, line in lines]


def floats(fields: Iterable[object]) -> list[float] | None:
    """The fields as floats (NaN and infinities accepted), or None when one is not a number."""
    try:
        return [float(f) for f in fields]
    except (TypeError, ValueError):
        return None


def numbers(fields: Sequence[object], where: str) -> list[float]:
    """The fields as finite floats, or ``ValueError`` naming ``where`` and quoting the fields."""
    values = floats(fields)
    if values is None:
        raise ValueError(f"{where}: expected numbers, got {' '.join(map(str, fields))!r}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{where}: non-finite number in {' '.join(map(str, fields))!r}")
    return values


def whole_numbers(fields: Sequence[object], where: str) -> list[int]:
    """The fields as whole numbers within int32 (flags, categories), or ``ValueError`` naming ``where``: they are
    kept as int32 attributes, and a cast of 1.5 or 1e30 would silently keep another number."""
    values = numbers(fields, where)
    if not all(v.is_integer() and abs(v) < 2**31 for v in values):
        raise ValueError(f"{where}: expected whole numbers, got {' '.join(map(str, fields))!r}")
    return [int(v) for v in values]
