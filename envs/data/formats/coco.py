"""COCO JSON: ``images[]`` and ``annotations[]`` with continuous 0-based ``bbox = [x, y, w, h]``."""

from __future__ import annotations

import json
import os

import numpy as np

from facebox.config import ConfigError
from facebox.envs.boxes import xywh_to_xyxy
from facebox.envs.data.formats.common import checked_box, entry, kind_option, resolve
from facebox.envs.data.images import Validation
from facebox.envs.data.parsing import existing, numbers, read_text, whole_numbers
from facebox.envs.data.record import ListDataset

__all__ = ["load_coco"]


def load_coco(
    path: str | os.PathLike, images: str = "", category: str = "", kind: str = "", validate: Validation = "header"
) -> ListDataset:
    """COCO JSON: ``images[] {id, file_name, width, height}`` and ``annotations[] {image_id, bbox, ...}``.

    ``path`` is the JSON file; images are ``<images>/<file_name>`` with ``images`` defaulting to the JSON's
    folder. ``bbox = [x, y, w, h]`` in COCO's continuous 0-based coordinates (0 = left edge of the image), so
    ``x2 = x + w`` with no pixel shift. ``category`` keeps annotations of those category names (comma separated;
    default: all). ``iscrowd`` and ``category_id`` are kept as attributes, and ``keypoints`` as [N, K, 3] when
    every face of the image has the same number of them (e.g. MMPose face-landmark files). An image's
    ``width``/``height``, when given, must be its real size. ``kind`` sets every face's kind. Errors name the JSON
    key (``images[i]`` / ``annotations[j]``). Images with no annotation left are skipped. ``validate`` picks the
    check of each image when the dataset is opened (:mod:`facebox.envs.data.images`).
    """
    path = existing(path)
    face_kind = kind_option(kind)
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}: malformed JSON ({e.msg})") from None
    if not (
        isinstance(data, dict) and isinstance(data.get("images"), list) and isinstance(data.get("annotations"), list)
    ):
        raise ValueError(f"{path}: not a COCO file (expected top-level 'images' and 'annotations' lists)")
    image_dir = resolve(images, path.parent) if images else path.parent

    wanted = None
    if category:
        names = {c.get("name"): c.get("id") for c in data.get("categories", []) if isinstance(c, dict)}
        requested = [n.strip() for n in category.split(",") if n.strip()]
        unknown = [n for n in requested if n not in names]
        if unknown:
            raise ConfigError(f"{path}: unknown category {unknown[0]!r}; the file has {sorted(map(str, names))}")
        wanted = {names[n] for n in requested}

    infos = {}
    for i, info in enumerate(data["images"]):
        key = f"{path}: images[{i}]"
        if not isinstance(info, dict) or "id" not in info or not info.get("file_name"):
            raise ValueError(f"{key}: expected an object with 'id' and 'file_name'")
        size = None
        if "width" in info and "height" in info:
            w, h = numbers([info["width"], info["height"]], key)
            size = (int(w), int(h))
        infos[info["id"]] = (key, str(info["file_name"]), size)

    faces: dict[object, list[tuple[np.ndarray, list[float], object]]] = {}
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
        box = checked_box(xywh_to_xyxy(numbers(bbox, key)), key, infos[ann["image_id"]][2])
        flags = whole_numbers([ann.get("iscrowd", 0), ann.get("category_id", -1)], key)
        points = ann.get("keypoints")
        if isinstance(points, list):
            points = numbers(points, f"{key}: keypoints")
        faces.setdefault(ann["image_id"], []).append((box, flags, points))

    entries = []
    for image_id, (key, file_name, size) in infos.items():
        found = faces.get(image_id)
        if not found:
            continue
        boxes, flags, points = zip(*found, strict=True)
        table = np.asarray(flags, np.int64)
        attributes = {"iscrowd": table[:, 0].astype(np.int32), "category_id": table[:, 1]}
        if all(isinstance(p, list) and p and len(p) % 3 == 0 and len(p) == len(points[0]) for p in points):
            attributes["keypoints"] = np.asarray(points, np.float32).reshape(len(boxes), -1, 3)
        kinds = (face_kind,) * len(boxes)
        where, candidates = f"{key} ({file_name})", [image_dir / file_name]
        entries.append(
            entry(candidates, boxes, where, validate=validate, size=size, kinds=kinds, attributes=attributes)
        )
    return ListDataset(entries, f"coco:{path}")
