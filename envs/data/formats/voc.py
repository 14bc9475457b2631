"""Pascal VOC XML (also LabelImg): one ``<annotation>`` per image, ``<object><name>..<bndbox>`` 1-based inclusive."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from facebox.envs.boxes import inclusive_to_xyxy
from facebox.envs.data.formats.common import checked_box, entry, image_name, kind_option, parse_xml
from facebox.envs.data.images import Validation
from facebox.envs.data.parsing import existing, numbers, whole_numbers
from facebox.envs.data.record import ListDataset

__all__ = ["load_voc"]


def _voc_candidates(xml: Path, file_name: str) -> list[Path]:
    """Where a VOC ``<filename>`` may live: beside the XML, or in ``JPEGImages/`` / ``images/`` up to 2 levels up.

    Covers the VOC devkit (``Annotations/`` + ``JPEGImages/``), LabelImg folders (XML next to the image) and
    split sub-folders such as ``annotations/train/`` + ``images/``.
    """
    out = []
    for folder in (xml.parent, xml.parent.parent, xml.parent.parent.parent):
        out += [folder / file_name, folder / "JPEGImages" / file_name, folder / "images" / file_name]
    return out


def load_voc(
    path: str | os.PathLike, classes: tuple[str, ...] = (), kind: str = "", validate: Validation = "header"
) -> ListDataset:
    """Pascal VOC XML (also LabelImg): one ``<annotation>`` per image with ``<object><name>..<bndbox>``.

    ``path`` is one XML file or a folder searched recursively for ``*.xml`` (a VOC root, its ``Annotations/``,
    or a LabelImg folder); XML files whose root is not ``<annotation>`` are ignored. ``classes`` keeps objects
    with those names (e.g. ``cat_face``; default: all). VOC coordinates are 1-based inclusive pixels, so
    ``x1 = xmin - 1, x2 = xmax``. LabelImg writes the same numbers but really means 0-based corner positions
    clamped to >= 1, so its boxes may sit up to 1 px left/up of the true edge -- immaterial for localisation.
    The image comes from ``<filename>`` (see :func:`_voc_candidates`); ``<path>`` is ignored because it is the
    labeller's own machine path. ``<size>``, when it is positive, must be the image's size (boxes of a resized copy
    would be misplaced). ``difficult`` and ``truncated`` flags and the object ``label`` are kept as attributes;
    ``kind`` sets every face's kind (e.g. ``animal`` for cats). Images with no matching object are skipped.
    ``validate`` picks the check of each image when the dataset is opened (:mod:`facebox.envs.data.images`).
    """
    path = existing(path)
    face_kind = kind_option(kind)
    wanted = set(classes)
    xmls = [path] if path.is_file() else sorted(path.rglob("*.xml"))
    if not xmls:
        raise FileNotFoundError(f"{path}: no *.xml annotation files found")
    entries = []
    for xml in xmls:
        root, lines = parse_xml(xml)
        if root.tag != "annotation":
            continue
        objects = [o for o in root.findall("object") if not wanted or (o.findtext("name") or "").strip() in wanted]
        if not objects:
            continue
        file_el = root.find("filename")
        if file_el is None or not (file_el.text or "").strip():
            raise ValueError(f"{xml}:{lines[root]}: <annotation> has no <filename>")
        file_name = image_name(file_el.text.strip())
        size = None
        size_el = root.find("size")
        if size_el is not None:
            w, h = numbers([size_el.findtext("width"), size_el.findtext("height")], f"{xml}:{lines[size_el]}")
            size = (int(w), int(h)) if w > 0 and h > 0 else None
        boxes, labels, difficult, truncated = [], [], [], []
        for obj in objects:
            obj_where = f"{xml}:{lines[obj]}"
            bndbox = obj.find("bndbox")
            if bndbox is None:
                raise ValueError(f"{obj_where}: <object> has no <bndbox>")
            box_where = f"{xml}:{lines[bndbox]}"
            corners = numbers([bndbox.findtext(k) for k in ("xmin", "ymin", "xmax", "ymax")], box_where)
            boxes.append(checked_box(inclusive_to_xyxy(corners), box_where, size))
            labels.append((obj.findtext("name") or "").strip())
            flags = whole_numbers([obj.findtext("difficult") or 0, obj.findtext("truncated") or 0], obj_where)
            difficult.append(flags[0])
            truncated.append(flags[1])
        attributes = {
            "label": np.asarray(labels),
            "difficult": np.asarray(difficult, np.int32),
            "truncated": np.asarray(truncated, np.int32),
        }
        where = f"{xml}:{lines[file_el]}"
        kinds = (face_kind,) * len(boxes)
        candidates = _voc_candidates(xml, file_name)
        entries.append(
            entry(candidates, boxes, where, validate=validate, size=size, kinds=kinds, attributes=attributes)
        )
    return ListDataset(entries, f"voc:{path}")
