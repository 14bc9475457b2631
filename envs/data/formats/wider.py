"""WIDER FACE: ``wider_face_{split}_bbx_gt.txt`` (0-based ``x y w h`` plus six flags per face) and its images."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from facebox.envs.boxes import xywh_to_xyxy
from facebox.envs.data.formats.common import blocks, checked_box, entry, face_fields, first_existing, resolve
from facebox.envs.data.images import Validation, image_size
from facebox.envs.data.parsing import existing, numbers, text_lines, whole_numbers
from facebox.envs.data.record import ListDataset, Size

__all__ = ["load_wider"]

_WIDER_FLAGS = ("blur", "expression", "illumination", "invalid", "occlusion", "pose")
_WIDER_SUBSETS = ("easy", "medium", "hard")
_INVALID = _WIDER_FLAGS.index("invalid")
_LAYOUT = f"10 fields (x1 y1 w h {' '.join(_WIDER_FLAGS)}) or 13 (+ {' '.join(_WIDER_SUBSETS)})"


def _read_sizes(path: Path) -> dict[str, tuple[Size, Size | None]]:
    """``name orig_w orig_h [stored_w stored_h]`` per line ('#' comments) -> {name: (original, stored or None)}."""
    sizes = {}
    for no, line in text_lines(path):
        fields = line.split()
        if fields[0].startswith("#"):
            continue
        where = f"{path}:{no}"
        if len(fields) not in (3, 5):
            raise ValueError(f"{where}: expected 'name orig_w orig_h [stored_w stored_h]', got {len(fields)} fields")
        values = [int(v) for v in numbers(fields[1:], where)]
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
    validate: Validation = "header",
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
    boxes are scaled by stored/original per axis (stored size read from the image header when not given).

    Dropped boxes, each by a stated rule, because none can be localised: ``w <= 0`` or ``h <= 0`` (annotation
    artefacts: a box without area marks no face; counted in a warning naming the file, since many of them mean a
    broken file rather than artefacts); boxes whose smaller side is below ``min_size`` pixels of the stored image;
    boxes flagged invalid when ``ignore_invalid``. Images left without a box, and images annotated with N=0 faces,
    are skipped: the localisation environment needs a face in every image. ``validate`` picks the check of each
    image when the dataset is opened (:mod:`facebox.envs.data.images`).
    """
    path = existing(path)
    if path.is_dir():
        names = [f"wider_face_split/wider_face_{split}_bbx_gt.txt", f"wider_face_{split}_bbx_gt.txt"]
        ann = first_existing([path / n for n in names], "WIDER annotation file", str(path))
    else:
        ann = path
    root = ann.parent.parent if ann.parent.name == "wider_face_split" else ann.parent
    if images:
        image_dir = resolve(images, ann.parent)
    else:
        image_dir = first_existing([root / f"WIDER_{split}" / "images", root / "images"], "image folder", str(ann))
    sizes_file = resolve(sizes, ann.parent) if sizes else None
    rescale = _read_sizes(sizes_file) if sizes_file else None

    entries, columns, first_face, empty = [], 0, "", []
    for name, where, faces in blocks(text_lines(ann), ann):
        candidates = [image_dir / name, image_dir / Path(name).name]
        scale, size = (1.0, 1.0), None
        if rescale is not None:
            if name not in rescale:
                raise ValueError(f"{where}: {name} is not listed in the sizes file {sizes_file}")
            original, size = rescale[name]
            if size is None:
                size = image_size(first_existing(candidates, "image file", where), where)
            scale = (size[0] / original[0], size[1] / original[1])
        boxes, flags = [], []
        for face_where, fields in face_fields(faces, ann, (10, 13), _LAYOUT):
            if not columns:
                columns, first_face = len(fields), face_where
            if len(fields) != columns:
                raise ValueError(f"{face_where}: {len(fields)} fields, but {first_face} has {columns}")
            values, face_flags = numbers(fields[:4], face_where), whole_numbers(fields[4:], face_where)
            x, y, w, h = values[0] * scale[0], values[1] * scale[1], values[2] * scale[0], values[3] * scale[1]
            if w <= 0 or h <= 0:
                empty.append(face_where)
                continue
            if min(w, h) < min_size or (ignore_invalid and face_flags[_INVALID]):
                continue
            boxes.append(checked_box(xywh_to_xyxy([x, y, w, h]), face_where, size))
            flags.append(face_flags)
        if not boxes:
            continue
        table = np.asarray(flags, np.int32)
        attributes = {key: table[:, k] for k, key in enumerate((*_WIDER_FLAGS, *_WIDER_SUBSETS)[: table.shape[1]])}
        kinds = ("human",) * len(boxes)
        entries.append(
            entry(candidates, boxes, where, validate=validate, size=size, kinds=kinds, attributes=attributes)
        )
    if empty:
        warnings.warn(
            f"{ann}: dropped face boxes of zero width or height: {len(empty)} (the first at {empty[0]})", stacklevel=2
        )
    return ListDataset(entries, f"wider:{ann}")
