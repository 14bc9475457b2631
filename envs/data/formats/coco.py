"""COCO JSON: ``images[]`` and ``annotations[]`` with continuous 0-based ``bbox = [x, y, w, h]``."""

from __future__ import annotations

import json
import os

import numpy as np

from facebox.config import ConfigError
from facebox.envs.boxes import xywh_to_xyxy
from facebox.envs.data.formats.common import checked_box, entry, kind_option, resolve
from facebox.envs.data.parsing import existing, numbers, read_text
from facebox.envs.data.record import ListDataset

__all__ = ["load_coco"]


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
        flags = numbers([ann.get("iscrowd", 0), ann.get("category_id", -1)], key)
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
            values = numbers([v for p in points for v in p], key)
            attributes["keypoints"] = np.asarray(values, np.float32).reshape(len(boxes), -1, 3)
        kinds = (face_kind,) * len(boxes)
        entries.append(
            entry([image_dir / file_name], boxes, f"{key} ({file_name})", size=size, kinds=kinds, attributes=attributes)
        )
    return ListDataset(entries, f"coco:{path}")
