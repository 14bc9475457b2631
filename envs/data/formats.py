"""Loaders for real face datasets: each parses one annotation format into a lazily decoded :class:`ListDataset`.

Every format differs only in how it names images and writes boxes, so each loader is a small parser plus one
box-convention conversion; image lookup, box checks and error messages are shared helpers. The target is the
convention of ``record.py``: float32 xyxy, 0-based, where ``x2``/``y2`` are the right/bottom pixel *edges* (a box
covering pixel columns 0..9 is ``x1=0, x2=10``). The conversions, in one place:

==========================================  =====================================  =========================
source convention                           used by                                conversion
==========================================  =====================================  =========================
0-based ``x, y, w, h``                      WIDER FACE, COCO, CelebA, CSV (xywh)    ``x1=x, x2=x+w``
0-based inclusive pixels ``left..right``    dlib imglab (``left, width``)           ``x1=left, x2=left+width``
1-based inclusive pixels ``xmin..xmax``     Pascal VOC                              ``x1=xmin-1, x2=xmax``
continuous pixel-centre coordinates         FDDB ellipses                           ``x1=cx-hx+0.5`` (see FDDB)
0-based edges ``x1, y1, x2, y2``            CSV (xyxy)                              unchanged
==========================================  =====================================  =========================

Why errors are raised at load time: a bad annotation line or a missing image should stop a run before training
starts, not after hours. Every problem in an annotation file (wrong field count, non-numbers, zero-area box, box
outside a known image size, missing image file) raises naming the annotation file and its 1-based line
(``file:line``), or the JSON key for COCO. Pixels are decoded only on access, by :func:`record.read_image`, which
rejects corrupt or truncated files and normalises grayscale / RGBA / 16-bit images.

Options naming a file or folder (``images``, ``sizes``) are used as given when that path exists, otherwise taken
relative to the annotation file's folder, so a spec string can carry paths relative to the dataset itself.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from xml.etree import ElementTree as ET
from xml.parsers import expat

import numpy as np

from facebox.envs.data.record import KINDS, Entry, ListDataset, read_image, validate_boxes

__all__ = ["csv_rows", "load_celeba", "load_coco", "load_csv", "load_dlib_xml", "load_fddb", "load_voc", "load_wider"]

Size = tuple[int, int]  # (width, height) of an image, when the annotation states it
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


# ----------------------------------------------------------------------------------------------- shared helpers


def _exists(path: str | os.PathLike) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such annotation file or dataset folder")
    return path


def _resolve(option: str, base: Path) -> Path:
    """An option path as given if it exists, else relative to ``base`` (the annotation file's folder)."""
    path = Path(option).expanduser()
    return path if path.exists() or path.is_absolute() else base / path


def _first_existing(candidates: Sequence[Path], what: str, where: str) -> Path:
    for candidate in candidates:
        if candidate.exists():
            return candidate
    tried = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise FileNotFoundError(f"{where}: {what} not found; tried {tried}")


def _image_name(name: str) -> str:
    """Annotation files often name images without extension (FDDB, some VOC sets): those mean ``.jpg``."""
    return name if name.lower().endswith(_IMAGE_SUFFIXES) else f"{name}.jpg"


def _text_lines(path: Path) -> list[tuple[int, str]]:
    """The non-blank lines of a text file with their 1-based numbers (newline removed, nothing else)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    return [(no, line) for no, line in enumerate(text.splitlines(), 1) if line.strip()]


def _numbers(fields: Sequence[object], where: str) -> list[float]:
    try:
        values = [float(f) for f in fields]
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected numbers, got {' '.join(map(str, fields))!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{where}: non-finite number in {' '.join(map(str, fields))!r}")
    return values


def _is_numbers(text: str) -> bool:
    try:
        _numbers(text.split(), "")
    except ValueError:
        return False
    return True


def _count(text: str, where: str, what: str) -> int:
    try:
        n = int(text.strip())
    except ValueError:
        raise ValueError(f"{where}: expected {what} (a whole number), got {text.strip()!r}") from None
    if n < 0:
        raise ValueError(f"{where}: {what} must not be negative, got {n}")
    return n


def _kind(kind: str) -> str | None:
    """The ``kind`` option: empty means "the source does not say"; anything else must be a known kind."""
    if kind and kind not in KINDS:
        raise ValueError(f"kind={kind!r}: expected one of {KINDS} or empty")
    return kind or None


def _check_box(box: Sequence[float], where: str, size: Size | None = None) -> list[float]:
    """One converted xyxy box, checked where its annotation line is still known (``where``)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    shown = [round(v, 3) for v in (x1, y1, x2, y2)]
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise ValueError(f"{where}: box {shown} has a non-finite coordinate")
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"{where}: box {shown} (x1, y1, x2, y2) has zero or negative area")
    if size is not None and (x2 <= 0 or y2 <= 0 or x1 >= size[0] or y1 >= size[1]):
        raise ValueError(f"{where}: box {shown} (x1, y1, x2, y2) lies outside the {size[0]}x{size[1]} image")
    return [x1, y1, x2, y2]


def _entry(
    candidates: Sequence[Path],
    boxes: Sequence[Sequence[float]],
    where: str,
    *,
    size: Size | None = None,
    kinds: Sequence[str | None] = (),
    identities: Sequence[int | None] = (),
    attributes: dict[str, np.ndarray] | None = None,
) -> Entry:
    """Build one record after finding its image on disk, so a wrong path fails at load time, not mid-run.

    ``candidates`` are the places the image may be (first existing wins); ``where`` (``file:line``) names the
    annotation line in the error. Boxes poking out of a known image size are clipped, as ListDataset would.
    """
    image = _first_existing(candidates, "image file", where)
    arr = np.asarray(boxes, np.float32).reshape(-1, 4)
    if size is not None:
        arr = validate_boxes(arr, size[0], size[1], where)
    return Entry(str(image), arr, tuple(kinds), tuple(identities), attributes or {})


def _blocks(lines: list[tuple[int, str]], path: Path) -> Iterator[tuple[str, str, list[tuple[int, str]]]]:
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
        n = _count(count_text, f"{path}:{count_no}", f"the number of faces of {name.strip()!r}")
        faces = lines[i + 2 : i + 2 + n]
        if len(faces) < n:
            raise ValueError(f"{path}:{count_no}: {n} faces announced but the file ends after {len(faces)}")
        i += 2 + n
        if n == 0:
            if i < len(lines) and _is_numbers(lines[i][1]):
                i += 1
            continue
        yield name.strip(), f"{path}:{name_no}", faces


def _parse_xml(path: Path) -> tuple[ET.Element, dict[ET.Element, int]]:
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


# ------------------------------------------------------------------------------------------------------ WIDER

_WIDER_FLAGS = ("blur", "expression", "illumination", "invalid", "occlusion", "pose")
_WIDER_SUBSETS = ("easy", "medium", "hard")


def _read_sizes(path: Path) -> dict[str, tuple[Size, Size | None]]:
    """``name orig_w orig_h [stored_w stored_h]`` per line ('#' comments) -> {name: (original, stored or None)}."""
    sizes = {}
    for no, line in _text_lines(path):
        fields = line.split()
        if fields[0].startswith("#"):
            continue
        where = f"{path}:{no}"
        if len(fields) not in (3, 5):
            raise ValueError(f"{where}: expected 'name orig_w orig_h [stored_w stored_h]', got {len(fields)} fields")
        values = [int(v) for v in _numbers(fields[1:], where)]
        if min(values) <= 0:
            raise ValueError(f"{where}: image sizes must be positive, got {values}")
        sizes[fields[0]] = ((values[0], values[1]), (values[2], values[3]) if len(values) == 4 else None)
    return sizes


def load_wider(
    path: str | os.PathLike,
    split: str = "val",
    images: str = "",
    sizes: str = "",
    ignore_invalid: bool = False,
    min_size: float = 0.0,
) -> ListDataset:
    """WIDER FACE: ``wider_face_{split}_bbx_gt.txt`` plus its images.

    ``path`` is the WIDER root (holding ``wider_face_split/``) or the annotation txt itself. Layout per image: a
    line ``<event>/<name>.jpg``, a line with the face count N, then N lines
    ``x1 y1 w h blur expression illumination invalid occlusion pose``. Boxes are 0-based ``x, y, w, h`` ->
    ``x2 = x1 + w``. The six flags are kept as int32 ``attributes`` (nothing annotated is lost); a file with 13
    columns (the shared subset's ``boxes_416x416.txt``) also keeps ``easy medium hard`` (official difficulty
    subsets; a box in none of them is an "ignore" box of the official protocol).

    Images: ``images`` or else ``<root>/WIDER_{split}/images`` or ``<root>/images``; each image is looked up as
    ``<images>/<event>/<name>`` and then ``<images>/<name>`` (flat copies such as the shared subset).

    Resized copies: WIDER images are often redistributed resized while the txt stays in original pixels. Then
    either load an annotation file rescaled to the stored images, or pass ``sizes``: a file of
    ``<event>/<name>.jpg orig_w orig_h [stored_w stored_h]`` lines (the shared subset's ``image_sizes.txt``);
    boxes are scaled by stored/original per axis (stored size decoded from the image when not given).

    Dropped boxes, each by a stated rule, because none can be localised: ``w <= 0`` or ``h <= 0`` (annotation
    artefacts: a box without area marks no face); boxes whose smaller side is below ``min_size``
    pixels of the stored image; boxes flagged invalid when ``ignore_invalid``. Images left without a box, and
    images annotated with N=0 faces, are skipped: the localisation environment needs a face in every image.
    """
    path = _exists(path)
    if path.is_dir():
        names = [f"wider_face_split/wider_face_{split}_bbx_gt.txt", f"wider_face_{split}_bbx_gt.txt"]
        ann = _first_existing([path / n for n in names], "WIDER annotation file", str(path))
    else:
        ann = path
    root = ann.parent.parent if ann.parent.name == "wider_face_split" else ann.parent
    if images:
        image_dir = _resolve(images, ann.parent)
    else:
        image_dir = _first_existing([root / f"WIDER_{split}" / "images", root / "images"], "image folder", str(ann))
    sizes_file = _resolve(sizes, ann.parent) if sizes else None
    rescale = _read_sizes(sizes_file) if sizes_file else None

    entries, columns, first_face = [], 0, ""
    for name, where, faces in _blocks(_text_lines(ann), ann):
        candidates = [image_dir / name, image_dir / Path(name).name]
        scale, size = (1.0, 1.0), None
        if rescale is not None:
            if name not in rescale:
                raise ValueError(f"{where}: {name} is not listed in the sizes file {sizes_file}")
            original, size = rescale[name]
            if size is None:
                pixels = read_image(_first_existing(candidates, "image file", where))
                size = (pixels.shape[1], pixels.shape[0])
            scale = (size[0] / original[0], size[1] / original[1])
        boxes, flags = [], []
        for no, line in faces:
            face_where = f"{ann}:{no}"
            fields = line.split()
            if len(fields) not in (10, 13):
                raise ValueError(
                    f"{face_where}: expected 10 fields (x1 y1 w h {' '.join(_WIDER_FLAGS)}) or 13 (+ easy medium "
                    f"hard), got {len(fields)}"
                )
            if not columns:
                columns, first_face = len(fields), face_where
            if len(fields) != columns:
                raise ValueError(f"{face_where}: {len(fields)} fields, but {first_face} has {columns}")
            values = _numbers(fields, face_where)
            x, y, w, h = values[0] * scale[0], values[1] * scale[1], values[2] * scale[0], values[3] * scale[1]
            if w <= 0 or h <= 0 or min(w, h) < min_size or (ignore_invalid and values[7]):
                continue
            boxes.append(_check_box((x, y, x + w, y + h), face_where, size))
            flags.append(values[4:])
        if not boxes:
            continue
        table = np.asarray(flags).round().astype(np.int32)
        attributes = {key: table[:, k] for k, key in enumerate((*_WIDER_FLAGS, *_WIDER_SUBSETS)[: table.shape[1]])}
        kinds = ("human",) * len(boxes)
        entries.append(_entry(candidates, boxes, where, size=size, kinds=kinds, attributes=attributes))
    return ListDataset(entries, f"wider:{ann}")


# ------------------------------------------------------------------------------------------------------- FDDB


def _ellipse_box(a: float, b: float, theta: float, cx: float, cy: float) -> tuple[float, float, float, float]:
    """Axis-aligned box enclosing FDDB's rotated ellipse, in our pixel-edge coordinates.

    A point of the ellipse is ``c + a cos(t) u + b sin(t) v`` with ``u = (cos theta, sin theta)`` (the major axis)
    and ``v = (-sin theta, cos theta)``. Its x is ``cx + a cos(t) cos(theta) - b sin(t) sin(theta)``, whose
    maximum over ``t`` is ``cx + sqrt(a^2 cos^2 theta + b^2 sin^2 theta)`` (amplitude of a sum of sines); y alike
    with ``sqrt(a^2 sin^2 theta + b^2 cos^2 theta)``. The sign convention of theta does not matter (squares only).
    FDDB's centres are pixel-centre coordinates (its evaluation rasterises the ellipses with OpenCV, where pixel
    ``i`` is centred on ``i``), and pixel ``i`` spans ``[i, i+1)`` in our convention: hence the ``+ 0.5``.
    """
    hx = math.hypot(a * math.cos(theta), b * math.sin(theta))
    hy = math.hypot(a * math.sin(theta), b * math.cos(theta))
    return cx - hx + 0.5, cy - hy + 0.5, cx + hx + 0.5, cy + hy + 0.5


def load_fddb(path: str | os.PathLike, folds: str = "", images: str = "") -> ListDataset:
    """FDDB: ``FDDB-folds/FDDB-fold-XX-ellipseList.txt`` files plus the ``originalPics`` image tree.

    ``path`` is the FDDB root (holding ``FDDB-folds/``), the folds folder, or one ellipse-list file. ``folds``
    picks folds of a folder, e.g. ``"1,2"`` (default: every ``*-ellipseList.txt``). Layout per image: a line
    ``2002/08/11/big/img_591`` (no extension; ``.jpg`` is added), the face count, then one
    ``major_radius minor_radius angle center_x center_y 1`` line per face: an ellipse whose major axis makes
    ``angle`` radians with the x axis (about +-pi/2 for upright faces, i.e. the major axis is vertical).
    Boxes are the enclosing axis-aligned boxes (derivation in :func:`_ellipse_box`); the raw ellipse
    ``(major, minor, angle, cx, cy)`` is kept as attribute ``ellipse`` for FDDB's own ellipse-based scoring.
    Images: ``images`` or the FDDB root, looked up as ``<images>/<name>.jpg`` then
    ``<images>/originalPics/<name>.jpg``. Ellipses that cross the frame are clipped when the image is read.
    """
    path = _exists(path)
    if path.is_file():
        files, folds_dir = [path], path.parent
    else:
        folds_dir = path / "FDDB-folds" if (path / "FDDB-folds").is_dir() else path
        if folds:
            numbers = [_count(k, f"folds={folds!r}", "a fold number") for k in folds.split(",") if k.strip()]
            files = [folds_dir / f"FDDB-fold-{k:02d}-ellipseList.txt" for k in numbers]
            for file in files:
                _exists(file)
        else:
            files = sorted(folds_dir.glob("FDDB-fold-*-ellipseList.txt"))
            if not files:
                raise FileNotFoundError(f"{folds_dir}: no FDDB-fold-*-ellipseList.txt files")
    root = folds_dir.parent if folds_dir.name == "FDDB-folds" else folds_dir
    image_root = _resolve(images, folds_dir) if images else root

    entries = []
    for file in files:
        for name, where, faces in _blocks(_text_lines(file), file):
            boxes, ellipses = [], []
            for no, line in faces:
                face_where = f"{file}:{no}"
                fields = line.split()
                if len(fields) not in (5, 6):
                    raise ValueError(
                        f"{face_where}: expected 'major_radius minor_radius angle center_x center_y 1', "
                        f"got {len(fields)} fields"
                    )
                ellipse = _numbers(fields[:5], face_where)
                boxes.append(_check_box(_ellipse_box(*ellipse), face_where))
                ellipses.append(ellipse)
            file_name = _image_name(name)
            candidates = [image_root / file_name, image_root / "originalPics" / file_name]
            attributes = {"ellipse": np.asarray(ellipses, np.float32)}
            entries.append(_entry(candidates, boxes, where, kinds=("human",) * len(boxes), attributes=attributes))
    return ListDataset(entries, f"fddb:{path}")


# ----------------------------------------------------------------------------------------------------- CelebA


def _identities(path: Path) -> dict[str, int]:
    """CelebA's ``identity_CelebA.txt`` (``<image> <identity>`` per line), or {} when the file is absent."""
    if not path.is_file():
        return {}
    out = {}
    for no, line in _text_lines(path):
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(f"{path}:{no}: expected '<image> <identity>', got {len(fields)} fields")
        out[fields[0]] = _count(fields[1], f"{path}:{no}", "the identity")
    return out


def load_celeba(path: str | os.PathLike, images: str = "") -> ListDataset:
    """CelebA (in-the-wild images): ``list_bbox_celeba.txt`` plus ``img_celeba/``.

    ``path`` is the CelebA root (holding ``Anno/``), the folder holding the txt, or the txt itself. Layout: line 1
    the image count, line 2 the header ``image_id x_1 y_1 width height``, then one face per image. Boxes are
    taken as 0-based ``x, y, w, h`` -> ``x2 = x + w`` (CelebA does not document its origin; +-1 px). They refer
    to the original ``img_celeba`` images, NOT to the aligned and cropped ``img_align_celeba``. Images: ``images``
    or else ``img_celeba`` beside the txt, in its parent or in ``<parent>/Img``. ``identity_CelebA.txt`` beside
    the txt, when present, supplies ``identities``. A count on line 1 that disagrees with the rows is an error
    (it is how a truncated copy shows).
    """
    path = _exists(path)
    if path.is_dir():
        names = ["list_bbox_celeba.txt", "Anno/list_bbox_celeba.txt"]
        ann = _first_existing([path / n for n in names], "list_bbox_celeba.txt", str(path))
    else:
        ann = path
    base = ann.parent
    if images:
        image_dir = _resolve(images, base)
    else:
        tried = [base / "img_celeba", base.parent / "img_celeba", base.parent / "Img" / "img_celeba"]
        image_dir = _first_existing(tried, "img_celeba folder", str(ann))
    identities = _identities(base / "identity_CelebA.txt")

    lines = _text_lines(ann)
    if len(lines) < 2:
        raise ValueError(f"{ann}: expected an image count line and a header line")
    count = _count(lines[0][1], f"{ann}:{lines[0][0]}", "the image count")
    header = lines[1][1].split()
    if header != ["image_id", "x_1", "y_1", "width", "height"]:
        raise ValueError(f"{ann}:{lines[1][0]}: expected the header 'image_id x_1 y_1 width height', got {header}")
    rows = lines[2:]
    if len(rows) != count:
        raise ValueError(f"{ann}:{lines[0][0]}: the file announces {count} images but lists {len(rows)}")
    entries = []
    for no, line in rows:
        where = f"{ann}:{no}"
        fields = line.split()
        if len(fields) != 5:
            raise ValueError(f"{where}: expected 5 fields (image_id x_1 y_1 width height), got {len(fields)}")
        x, y, w, h = _numbers(fields[1:], where)
        box = _check_box((x, y, x + w, y + h), where)
        ident = (identities.get(fields[0]),)
        entries.append(_entry([image_dir / fields[0]], [box], where, kinds=("human",), identities=ident))
    return ListDataset(entries, f"celeba:{ann}")


# ------------------------------------------------------------------------------------------------------- dlib


def _part_order(name: str) -> tuple[int, int, str]:
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def load_dlib_xml(path: str | os.PathLike, kind: str = "", keep_ignored: bool = False) -> ListDataset:
    """dlib imglab XML: ``<image file=..><box top= left= width= height= [ignore='1']>[<part name x y/>]``.

    ``path`` is the XML file; image paths are relative to its folder. dlib rectangles are 0-based inclusive
    pixels, ``width = right - left + 1``, so ``x1 = left, x2 = left + width``. Boxes marked ``ignore='1'`` are
    "don't care" regions for dlib's trainer, not faces to find: they are dropped, unless ``keep_ignored``, which
    keeps them with a boolean ``ignore`` attribute. ``<part>`` landmarks are kept as attribute ``landmarks``
    [N, P, 2] (parts ordered by name, NaN where a box lacks one), shifted by +0.5 from dlib's pixel indices to
    pixel centres in our edge coordinates. ``width``/``height`` attributes of ``<image>``, when present, check
    boxes at load time. ``kind`` sets every face's kind (imglab is used for animal faces too). Images without a
    box are skipped.
    """
    path = _exists(path)
    face_kind = _kind(kind)
    root, lines = _parse_xml(path)
    entries = []
    for image in root.iter("image"):
        where = f"{path}:{lines[image]}"
        file = image.get("file")
        if not file:
            raise ValueError(f"{where}: <image> has no file attribute")
        size = None
        if image.get("width") and image.get("height"):
            w, h = _numbers([image.get("width"), image.get("height")], where)
            size = (int(w), int(h))
        boxes, ignored, parts = [], [], []
        for box in image.findall("box"):
            box_where = f"{path}:{lines[box]}"
            missing = [k for k in ("top", "left", "width", "height") if k not in box.attrib]
            if missing:
                raise ValueError(f"{box_where}: <box> lacks attribute(s) {missing}")
            top, left, width, height = _numbers([box.get(k) for k in ("top", "left", "width", "height")], box_where)
            ignore = box.get("ignore", "0").strip() not in ("", "0")
            if ignore and not keep_ignored:
                continue
            boxes.append(_check_box((left, top, left + width, top + height), box_where, size))
            ignored.append(ignore)
            points = {}
            for part in box.findall("part"):
                points[part.get("name", "")] = _numbers([part.get("x"), part.get("y")], f"{path}:{lines[part]}")
            parts.append(points)
        if not boxes:
            continue
        attributes = {"ignore": np.asarray(ignored, bool)} if keep_ignored else {}
        names = sorted({name for points in parts for name in points}, key=_part_order)
        if names:
            landmarks = np.full((len(boxes), len(names), 2), np.nan, np.float32)
            for i, points in enumerate(parts):
                for j, name in enumerate(names):
                    if name in points:
                        landmarks[i, j] = np.asarray(points[name]) + 0.5
            attributes["landmarks"] = landmarks
        kinds = (face_kind,) * len(boxes)
        entries.append(_entry([path.parent / file], boxes, where, size=size, kinds=kinds, attributes=attributes))
    return ListDataset(entries, f"dlib:{path}")


# ------------------------------------------------------------------------------------------------- Pascal VOC


def _voc_candidates(xml: Path, file_name: str) -> list[Path]:
    """Where a VOC ``<filename>`` may live: beside the XML, or in ``JPEGImages/`` / ``images/`` up to 2 levels up.

    Covers the VOC devkit (``Annotations/`` + ``JPEGImages/``), LabelImg folders (XML next to the image) and
    split sub-folders such as ``annotations/train/`` + ``images/``.
    """
    out = []
    for folder in (xml.parent, xml.parent.parent, xml.parent.parent.parent):
        out += [folder / file_name, folder / "JPEGImages" / file_name, folder / "images" / file_name]
    return out


def load_voc(path: str | os.PathLike, classes: tuple[str, ...] = (), kind: str = "") -> ListDataset:
    """Pascal VOC XML (also LabelImg): one ``<annotation>`` per image with ``<object><name>..<bndbox>``.

    ``path`` is one XML file or a folder searched recursively for ``*.xml`` (a VOC root, its ``Annotations/``,
    or a LabelImg folder); XML files whose root is not ``<annotation>`` are ignored. ``classes`` keeps objects
    with those names (e.g. ``cat_face``; default: all). VOC coordinates are 1-based inclusive pixels, so
    ``x1 = xmin - 1, x2 = xmax``. LabelImg writes the same numbers but really means 0-based corner positions
    clamped to >= 1, so its boxes may sit up to 1 px left/up of the true edge -- immaterial for localisation.
    The image comes from ``<filename>`` (see :func:`_voc_candidates`); ``<path>`` is ignored because it is the
    labeller's own machine path. ``<size>``, when it is positive, checks boxes at load time. ``difficult`` and
    ``truncated`` flags and the object ``label`` are kept as attributes; ``kind`` sets every face's kind (e.g.
    ``animal`` for cats). Images with no matching object are skipped.
    """
    path = _exists(path)
    face_kind = _kind(kind)
    wanted = set(classes)
    xmls = [path] if path.is_file() else sorted(path.rglob("*.xml"))
    if not xmls:
        raise FileNotFoundError(f"{path}: no *.xml annotation files found")
    entries = []
    for xml in xmls:
        root, lines = _parse_xml(xml)
        if root.tag != "annotation":
            continue
        objects = [o for o in root.findall("object") if not wanted or (o.findtext("name") or "").strip() in wanted]
        if not objects:
            continue
        file_el = root.find("filename")
        if file_el is None or not (file_el.text or "").strip():
            raise ValueError(f"{xml}:{lines[root]}: <annotation> has no <filename>")
        file_name = _image_name(file_el.text.strip())
        size = None
        size_el = root.find("size")
        if size_el is not None:
            w, h = _numbers([size_el.findtext("width"), size_el.findtext("height")], f"{xml}:{lines[size_el]}")
            size = (int(w), int(h)) if w > 0 and h > 0 else None
        boxes, labels, difficult, truncated = [], [], [], []
        for obj in objects:
            obj_where = f"{xml}:{lines[obj]}"
            bndbox = obj.find("bndbox")
            if bndbox is None:
                raise ValueError(f"{obj_where}: <object> has no <bndbox>")
            corners = [bndbox.findtext(k) for k in ("xmin", "ymin", "xmax", "ymax")]
            xmin, ymin, xmax, ymax = _numbers(corners, f"{xml}:{lines[bndbox]}")
            boxes.append(_check_box((xmin - 1, ymin - 1, xmax, ymax), f"{xml}:{lines[bndbox]}", size))
            labels.append((obj.findtext("name") or "").strip())
            flags = _numbers([obj.findtext("difficult") or 0, obj.findtext("truncated") or 0], obj_where)
            difficult.append(int(flags[0]))
            truncated.append(int(flags[1]))
        attributes = {
            "label": np.asarray(labels),
            "difficult": np.asarray(difficult, np.int32),
            "truncated": np.asarray(truncated, np.int32),
        }
        where = f"{xml}:{lines[file_el]}"
        kinds = (face_kind,) * len(boxes)
        candidates = _voc_candidates(xml, file_name)
        entries.append(_entry(candidates, boxes, where, size=size, kinds=kinds, attributes=attributes))
    return ListDataset(entries, f"voc:{path}")


# ------------------------------------------------------------------------------------------------------- COCO


def load_coco(path: str | os.PathLike, images: str = "", category: str = "", kind: str = "") -> ListDataset:
    """COCO JSON: ``images[] {id, file_name, width, height}`` and ``annotations[] {image_id, bbox, ...}``.

    ``path`` is the JSON file; images are ``<images>/<file_name>`` with ``images`` defaulting to the JSON's
    folder. ``bbox = [x, y, w, h]`` in COCO's continuous 0-based coordinates (0 = left edge of the image), so
    ``x2 = x + w`` with no pixel shift. ``category`` keeps annotations of those category names (comma separated;
    default: all). ``iscrowd`` and ``category_id`` are kept as attributes, and ``keypoints`` as [N, K, 3] when
    every face of the image has the same number of them (e.g. MMPose face-landmark files). ``kind`` sets every
    face's kind. Errors name the JSON key (``images[i]`` / ``annotations[j]``). Images with no annotation left
    are skipped.
    """
    path = _exists(path)
    face_kind = _kind(kind)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}: malformed JSON ({e.msg})") from None
    if not (
        isinstance(data, dict) and isinstance(data.get("images"), list) and isinstance(data.get("annotations"), list)
    ):
        raise ValueError(f"{path}: not a COCO file (expected top-level 'images' and 'annotations' lists)")
    image_dir = _resolve(images, path.parent) if images else path.parent

    wanted = None
    if category:
        names = {c.get("name"): c.get("id") for c in data.get("categories", []) if isinstance(c, dict)}
        requested = [n.strip() for n in category.split(",") if n.strip()]
        unknown = [n for n in requested if n not in names]
        if unknown:
            raise ValueError(f"{path}: unknown category {unknown[0]!r}; the file has {sorted(map(str, names))}")
        wanted = {names[n] for n in requested}

    infos = {}
    for i, info in enumerate(data["images"]):
        key = f"{path}: images[{i}]"
        if not isinstance(info, dict) or "id" not in info or not info.get("file_name"):
            raise ValueError(f"{key}: expected an object with 'id' and 'file_name'")
        size = None
        if "width" in info and "height" in info:
            w, h = _numbers([info["width"], info["height"]], key)
            size = (int(w), int(h))
        infos[info["id"]] = (key, str(info["file_name"]), size)

    faces: dict[object, list[tuple[list[float], list[float], object]]] = {}
    for j, ann in enumerate(data["annotations"]):
        key = f"{path}: annotations[{j}]"
        if not isinstance(ann, dict):
            raise ValueError(f"{key}: expected an object")
        key += f" (id={ann.get('id')})"
        if wanted is not None and ann.get("category_id") not in wanted:
            continue
        if ann.get("image_id") not in infos:
            raise ValueError(f"{key}: image_id {ann.get('image_id')!r} is not listed in 'images'")
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4):
            raise ValueError(f"{key}: bbox must be [x, y, w, h], got {bbox!r}")
        x, y, w, h = _numbers(bbox, key)
        box = _check_box((x, y, x + w, y + h), key, infos[ann["image_id"]][2])
        flags = _numbers([ann.get("iscrowd", 0), ann.get("category_id", -1)], key)
        faces.setdefault(ann["image_id"], []).append((box, flags, ann.get("keypoints")))

    entries = []
    for image_id, (key, file_name, size) in infos.items():
        found = faces.get(image_id)
        if not found:
            continue
        boxes, flags, points = zip(*found, strict=True)
        table = np.asarray(flags).astype(np.int64)
        attributes = {"iscrowd": table[:, 0].astype(np.int32), "category_id": table[:, 1]}
        if all(isinstance(p, list) and p and len(p) % 3 == 0 and len(p) == len(points[0]) for p in points):
            values = _numbers([v for p in points for v in p], key)
            attributes["keypoints"] = np.asarray(values, np.float32).reshape(len(boxes), -1, 3)
        kinds = (face_kind,) * len(boxes)
        entries.append(
            _entry(
                [image_dir / file_name], boxes, f"{key} ({file_name})", size=size, kinds=kinds, attributes=attributes
            )
        )
    return ListDataset(entries, f"coco:{path}")


# -------------------------------------------------------------------------------------------------------- CSV

_IMAGE_COLUMNS = ("image", "image_id", "image_path", "file", "filename", "file_name", "path", "img", "name")
_BOX_COLUMNS: tuple[tuple[tuple[str, str, str, str], bool], ...] = (  # (names, is x/y/width/height)
    (("x0", "y0", "x1", "y1"), False),
    (("x1", "y1", "x2", "y2"), False),
    (("xmin", "ymin", "xmax", "ymax"), False),
    (("left", "top", "right", "bottom"), False),
    (("x", "y", "w", "h"), True),
    (("x", "y", "width", "height"), True),
    (("left", "top", "width", "height"), True),
)


def csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    """Rows of a comma, tab or whitespace separated file, sniffed from its first line; '#' lines are comments."""
    lines = [(no, line) for no, line in _text_lines(path) if not line.lstrip().startswith("#")]
    if not lines:
        raise ValueError(f"{path}: no rows (only blank or '#' comment lines)")
    first = lines[0][1]
    if "\t" in first or "," in first:
        delimiter = "\t" if "\t" in first else ","
        return [(no, next(csv.reader([line], delimiter=delimiter))) for no, line in lines]
    return [(no, line.split()) for no, line in lines]


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_csv(path: str | os.PathLike, images: str = "", columns: str = "", kind: str = "") -> ListDataset:
    """A plain image folder plus a CSV/TSV with one row per face; rows of the same image form one record.

    ``path`` is the table (or a folder holding exactly one ``*.csv``/``*.tsv``); images are
    ``<images>/<image column>``, ``images`` defaulting to the table's folder. The delimiter (comma, tab or
    whitespace) is sniffed from the first row; ``#`` lines are comments. Columns are named by the first row
    (header) or, for files without one, by ``columns`` (e.g. ``image,width,height,n,x0,y0,x1,y1,how,note``;
    a first row equal to those names is skipped). Recognised names, case-insensitive:

    - image: one of ``image, image_id, image_path, file, filename, file_name, path, img, name``;
    - box, 0-based edges, used unchanged: ``x0 y0 x1 y1`` | ``x1 y1 x2 y2`` | ``xmin ymin xmax ymax`` |
      ``left top right bottom``; or 0-based ``x y w h`` | ``x y width height`` | ``left top width height``
      (``x2 = x + w``); the first complete set in this order wins;
    - image size (checks boxes at load time): ``image_width image_height``, or ``width height`` when the box is
      given by corners (otherwise ``width``/``height`` are the box size);
    - ``kind`` (human/animal; empty cells take the ``kind`` option) and ``identity`` (whole number or empty).

    Every other column is kept as an attribute: float when all its cells are numbers, else text.
    """
    path = _exists(path)
    if path.is_dir():
        tables = sorted([*path.glob("*.csv"), *path.glob("*.tsv")])
        if len(tables) != 1:
            raise FileNotFoundError(f"{path}: expected exactly one *.csv or *.tsv file, found {len(tables)}")
        path = tables[0]
    default_kind = _kind(kind)
    image_dir = _resolve(images, path.parent) if images else path.parent
    rows = csv_rows(path)
    if columns:
        names, header_where = [c.strip().lower() for c in columns.split(",")], f"columns={columns!r}"
        if [f.strip().lower() for f in rows[0][1]] == names:
            rows = rows[1:]
    else:
        names, header_where = [f.strip().lower() for f in rows[0][1]], f"{path}:{rows[0][0]} (header)"
        rows = rows[1:]
    index = {name: i for i, name in enumerate(names)}
    image_col = next((index[n] for n in _IMAGE_COLUMNS if n in index), None)
    if image_col is None:
        raise ValueError(f"{header_where}: no image column; name one of {list(_IMAGE_COLUMNS)}")
    scheme = next(((cols, xywh) for cols, xywh in _BOX_COLUMNS if all(c in index for c in cols)), None)
    if scheme is None:
        accepted = " | ".join(" ".join(cols) for cols, _ in _BOX_COLUMNS)
        raise ValueError(f"{header_where}: no box columns in {names}; expected one of {accepted}")
    box_cols, xywh = scheme
    size_cols = next(
        (c for c in (("image_width", "image_height"), ("width", "height")) if all(n in index for n in c)), None
    )
    if size_cols is not None and xywh and size_cols[0] == "width":
        size_cols = None
    known = {names[image_col], *box_cols, *(size_cols or ()), "kind", "identity"}
    extra = [n for n in names if n not in known]

    groups: dict[str, dict] = {}
    for no, fields in rows:
        where = f"{path}:{no}"
        if len(fields) != len(names):
            raise ValueError(f"{where}: expected {len(names)} fields ({', '.join(names)}), got {len(fields)}")
        a, b, c, d = _numbers([fields[index[n]] for n in box_cols], where)
        size = None
        if size_cols is not None:
            w, h = _numbers([fields[index[n]] for n in size_cols], where)
            size = (int(w), int(h))
        box = _check_box((a, b, a + c, b + d) if xywh else (a, b, c, d), where, size)
        face_kind = fields[index["kind"]].strip() if "kind" in index else ""
        if face_kind and face_kind not in KINDS:
            raise ValueError(f"{where}: unknown kind {face_kind!r}; expected one of {KINDS} or empty")
        identity = fields[index["identity"]].strip() if "identity" in index else ""
        group = groups.setdefault(
            fields[image_col].strip(), {"where": where, "size": size, "boxes": [], "kinds": [], "ids": [], "extra": []}
        )
        group["boxes"].append(box)
        group["kinds"].append(face_kind or default_kind)
        group["ids"].append(_count(identity, where, "the identity") if identity else None)
        group["extra"].append([fields[index[n]] for n in extra])

    numeric = [all(_is_float(row[k]) for g in groups.values() for row in g["extra"]) for k in range(len(extra))]
    entries = []
    for image, group in groups.items():
        attributes = {
            name: np.asarray([row[k] for row in group["extra"]], np.float32 if numeric[k] else str)
            for k, name in enumerate(extra)
        }
        entries.append(
            _entry(
                [image_dir / image],
                group["boxes"],
                group["where"],
                size=group["size"],
                kinds=group["kinds"],
                identities=group["ids"],
                attributes=attributes,
            )
        )
    return ListDataset(entries, f"csv:{path}")
