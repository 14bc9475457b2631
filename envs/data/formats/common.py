"""What the still-image formats share: finding images and option paths, counts, the ``kind`` option, checked boxes,
the entry builder (where each image is checked), the WIDER/FDDB block layout and XML with line numbers.

Each helper names the annotation file and line (``file:line``) in its errors, because that is where a user has to
look to fix a broken download or a hand-edited annotation.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from xml.etree import ElementTree as ET
from xml.parsers import expat

import numpy as np

from facebox.config import ConfigError
from facebox.envs.data.images import Validation, check_image
from facebox.envs.data.parsing import IMAGE_SUFFIXES, floats
from facebox.envs.data.record import KINDS, Entry, Size, validate_boxes

__all__ = [
    "blocks",
    "checked_box",
    "count",
    "entry",
    "face_fields",
    "first_existing",
    "image_name",
    "kind_option",
    "parse_xml",
    "resolve",
]


def resolve(option: str, base: Path) -> Path:
    """An option path as given if it exists, else relative to ``base`` (the annotation file's folder)."""
    path = Path(option).expanduser()
    return path if path.exists() or path.is_absolute() else base / path


def first_existing(candidates: Sequence[Path], what: str, where: str) -> Path:
    for candidate in candidates:
        if candidate.exists():
            return candidate
    tried = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise FileNotFoundError(f"{where}: {what} not found; tried {tried}")


def image_name(name: str) -> str:
    """Annotation files often name images without extension (FDDB, some VOC sets): those mean ``.jpg``."""
    return name if name.lower().endswith(IMAGE_SUFFIXES) else f"{name}.jpg"


def count(text: str, where: str, what: str, error: type[ValueError] = ValueError) -> int:
    """A non-negative whole number; ``error`` is ``ConfigError`` when the text comes from an option, not a file."""
    try:
        n = int(text.strip())
    except ValueError:
        raise error(f"{where}: expected {what} (a whole number), got {text.strip()!r}") from None
    if n < 0:
        raise error(f"{where}: {what} must not be negative, got {n}")
    return n


def kind_option(kind: str) -> str | None:
    """The ``kind`` option: empty means "the source does not say"; anything else must be a known kind."""
    if kind and kind not in KINDS:
        raise ConfigError(f"kind={kind!r}: expected one of {KINDS} or empty")
    return kind or None


def checked_box(box: Sequence[float], where: str, size: Size | None = None) -> Sequence[float]:
    """``box`` (xyxy) as given, once :func:`record.validate_boxes` accepts it: checked here, where the annotation
    line (``where``) is still known, and clipped later by :func:`entry` with the whole image's boxes."""
    validate_boxes([box], size, where)
    return box


def entry(
    candidates: Sequence[Path],
    boxes: Sequence[Sequence[float]],
    where: str,
    *,
    validate: Validation,
    size: Size | None = None,
    kinds: Sequence[str | None] = (),
    identities: Sequence[int | None] = (),
    attributes: dict[str, np.ndarray] | None = None,
) -> Entry:
    """Build one record after finding and checking its image (:func:`images.check_image` by ``validate``), so a
    wrong path or a bad image fails when the dataset is opened, not mid-run.

    ``candidates`` are the places the image may be (first existing wins); ``where`` (``file:line``) names the
    annotation line in the error. ``size`` is the image size the annotation states: it must be the real one, since
    boxes drawn on a resized copy would be misplaced on this image. Boxes are checked against the real size (the
    stated one with ``validate=none``) and poking-out ones clipped, as ListDataset would.
    """
    image = first_existing(candidates, "image file", where)
    real = check_image(image, validate, where)
    if real is not None and size is not None and tuple(size) != real:
        raise ValueError(
            f"{where}: the annotation gives a {size[0]}x{size[1]} image, but {image} is {real[0]}x{real[1]} "
            "(boxes must be in the pixels of the stored image)"
        )
    if real is not None:
        size = real
    arr = np.asarray(boxes, np.float32).reshape(-1, 4)
    if size is not None:
        arr = validate_boxes(arr, size, where)
    return Entry(str(image), arr, tuple(kinds), tuple(identities), attributes or {})


def _is_numbers(text: str) -> bool:
    values = floats(text.split())
    return values is not None and all(math.isfinite(v) for v in values)


def blocks(lines: list[tuple[int, str]], path: Path) -> Iterator[tuple[str, str, list[tuple[int, str]]]]:
    """Split the "name / count / count face lines" layout shared by WIDER and FDDB into (name, where, faces).

    ``where`` is ``file:line`` of the name line. An image announced with 0 faces yields nothing (it cannot be
    localised); the one all-zero line the official WIDER files put after such an image is skipped.
    """
    i = 0
    while i < len(lines):
        name_no, name = lines[i]
        if i + 1 >= len(lines):
            raise ValueError(f"{path}:{name_no}: image {name.strip()!r} is not followed by a face-count line")
        count_no, count_text = lines[i + 1]
        n = count(count_text, f"{path}:{count_no}", f"the number of faces of {name.strip()!r}")
        faces = lines[i + 2 : i + 2 + n]
        if len(faces) < n:
            raise ValueError(f"{path}:{count_no}: {n} faces announced but the file ends after {len(faces)}")
        i += 2 + n
        if n == 0:
            if i < len(lines) and _is_numbers(lines[i][1]):
                i += 1
            continue
        yield name.strip(), f"{path}:{name_no}", faces


def face_fields(
    faces: list[tuple[int, str]], path: Path, counts: tuple[int, ...], expected: str
) -> Iterator[tuple[str, list[str]]]:
    """``(file:line, fields)`` of each face line of a :func:`blocks` block, whose field count must be in ``counts``
    (``expected`` describes the layout in the error)."""
    for no, line in faces:
        where = f"{path}:{no}"
        fields = line.split()
        if len(fields) not in counts:
            raise ValueError(f"{where}: expected {expected}, got {len(fields)} fields")
        yield where, fields


def parse_xml(path: Path) -> tuple[ET.Element, dict[ET.Element, int]]:
    """Parse an XML file keeping each element's 1-based line (ElementTree drops it) for ``file:line`` errors."""
    builder = ET.TreeBuilder()
    lines: dict[ET.Element, int] = {}
    parser = expat.ParserCreate()

    def start(tag: str, attrs: dict[str, str]) -> None:
        lines[builder.start(tag, attrs)] = parser.CurrentLineNumber

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        with open(path, "rb") as f:
            parser.ParseFile(f)
    except expat.ExpatError as e:
        raise ValueError(f"{path}:{e.lineno}: malformed XML ({expat.ErrorString(e.code)})") from None
    return builder.close(), lines
