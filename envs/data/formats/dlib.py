"""dlib imglab XML: ``<image file=..><box top= left= width= height=>[<part name x y/>]`` (0-based inclusive pixels)."""

from __future__ import annotations

import os

import numpy as np

from facebox.envs.boxes import xywh_to_xyxy
from facebox.envs.data.formats.common import checked_box, entry, kind_option, parse_xml
from facebox.envs.data.images import Validation
from facebox.envs.data.parsing import existing, numbers
from facebox.envs.data.record import ListDataset

__all__ = ["load_dlib_xml"]


def _part_order(name: str) -> tuple[int, int, str]:
    """Numbered parts in numeric order (``"2"`` before ``"10"``), named ones after them."""
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def load_dlib_xml(
    path: str | os.PathLike, kind: str = "", keep_ignored: bool = False, validate: Validation = "header"
) -> ListDataset:
    """dlib imglab XML: ``<image file=..><box top= left= width= height= [ignore='1']>[<part name x y/>]``.

    ``path`` is the XML file; image paths are relative to its folder. dlib rectangles are 0-based inclusive
    pixels, ``width = right - left + 1``, so ``x1 = left, x2 = left + width``. Boxes marked ``ignore='1'`` are
    "don't care" regions for dlib's trainer, not faces to find: they are dropped, unless ``keep_ignored``, which
    keeps them with a boolean ``ignore`` attribute. ``<part>`` landmarks are kept as attribute ``landmarks``
    [N, P, 2] (parts ordered by name, NaN where a box lacks one), shifted by +0.5 from dlib's pixel indices to
    pixel centres in our edge coordinates. ``width``/``height`` attributes of ``<image>``, when present, must be
    the image's size. ``kind`` sets every face's kind (imglab is used for animal faces too). Images without a
    box are skipped. ``validate`` picks the check of each image when the dataset is opened
    (:mod:`facebox.envs.data.images`).
    """
    path = existing(path)
    face_kind = kind_option(kind)
    root, lines = parse_xml(path)
    entries = []
    for image in root.iter("image"):
        where = f"{path}:{lines[image]}"
        file = image.get("file")
        if not file:
            raise ValueError(f"{where}: <image> has no file attribute")
        size = None
        if image.get("width") and image.get("height"):
            w, h = numbers([image.get("width"), image.get("height")], where)
            size = (int(w), int(h))
        boxes, ignored, parts = [], [], []
        for box in image.findall("box"):
            box_where = f"{path}:{lines[box]}"
            missing = [k for k in ("top", "left", "width", "height") if k not in box.attrib]
            if missing:
                raise ValueError(f"{box_where}: <box> lacks attribute(s) {missing}")
            top, left, width, height = numbers([box.get(k) for k in ("top", "left", "width", "height")], box_where)
            ignore = box.get("ignore", "0").strip() not in ("", "0")
            if ignore and not keep_ignored:
                continue
            boxes.append(checked_box(xywh_to_xyxy([left, top, width, height]), box_where, size))
            ignored.append(ignore)
            points = {}
            for part in box.findall("part"):
                points[part.get("name", "")] = numbers([part.get("x"), part.get("y")], f"{path}:{lines[part]}")
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
        entries.append(
            entry([path.parent / file], boxes, where, validate=validate, size=size, kinds=kinds, attributes=attributes)
        )
    return ListDataset(entries, f"dlib:{path}")
