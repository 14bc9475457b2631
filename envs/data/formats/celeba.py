"""CelebA (in-the-wild images): ``list_bbox_celeba.txt`` (0-based ``x y w h``, one face per image) and identities."""

from __future__ import annotations

import os
from pathlib import Path

from facebox.envs.boxes import xywh_to_xyxy
from facebox.envs.data.formats.common import checked_box, count, entry, first_existing, resolve
from facebox.envs.data.images import Validation
from facebox.envs.data.parsing import existing, numbers, text_lines
from facebox.envs.data.record import ListDataset

__all__ = ["load_celeba"]


def _identities(path: Path) -> dict[str, int]:
    """CelebA's ``identity_CelebA.txt`` (``<image> <identity>`` per line), or {} when the file is absent."""
    if not path.is_file():
        return {}
    out = {}
    for no, line in text_lines(path):
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(f"{path}:{no}: expected '<image> <identity>', got {len(fields)} fields")
        out[fields[0]] = count(fields[1], f"{path}:{no}", "the identity")
    return out


def load_celeba(path: str | os.PathLike, images: str = "", validate: Validation = "header") -> ListDataset:
    """CelebA (in-the-wild images): ``list_bbox_celeba.txt`` plus ``img_celeba/``.

    ``path`` is the CelebA root (holding ``Anno/``), the folder holding the txt, or the txt itself. Layout: line 1
    the image count, line 2 the header ``image_id x_1 y_1 width height``, then one face per image. Boxes are
    taken as 0-based ``x, y, w, h`` -> ``x2 = x + w`` (CelebA does not document its origin; +-1 px). They refer
    to the original ``img_celeba`` images, NOT to the aligned and cropped ``img_align_celeba``. Images: ``images``
    or else ``img_celeba`` beside the txt, in its parent or in ``<parent>/Img``. ``identity_CelebA.txt`` beside
    the txt, when present, supplies ``identities``. A count on line 1 that disagrees with the rows is an error
    (it is how a truncated copy shows). ``validate`` picks the check of each image when the dataset is opened
    (:mod:`facebox.envs.data.images`).
    """
    path = existing(path)
    if path.is_dir():
        names = ["list_bbox_celeba.txt", "Anno/list_bbox_celeba.txt"]
        ann = first_existing([path / n for n in names], "list_bbox_celeba.txt", str(path))
    else:
        ann = path
    base = ann.parent
    if images:
        image_dir = resolve(images, base)
    else:
        tried = [base / "img_celeba", base.parent / "img_celeba", base.parent / "Img" / "img_celeba"]
        image_dir = first_existing(tried, "img_celeba folder", str(ann))
    identities = _identities(base / "identity_CelebA.txt")

    lines = text_lines(ann)
    if len(lines) < 2:
        raise ValueError(f"{ann}: expected an image count line and a header line")
    n = count(lines[0][1], f"{ann}:{lines[0][0]}", "the image count")
    header = lines[1][1].split()
    if header != ["image_id", "x_1", "y_1", "width", "height"]:
        raise ValueError(f"{ann}:{lines[1][0]}: expected the header 'image_id x_1 y_1 width height', got {header}")
    rows = lines[2:]
    if len(rows) != n:
        raise ValueError(f"{ann}:{lines[0][0]}: the file announces {n} images but lists {len(rows)}")
    entries = []
    for no, line in rows:
        where = f"{ann}:{no}"
        fields = line.split()
        if len(fields) != 5:
            raise ValueError(f"{where}: expected 5 fields (image_id x_1 y_1 width height), got {len(fields)}")
        box = checked_box(xywh_to_xyxy(numbers(fields[1:], where)), where)
        ident = (identities.get(fields[0]),)
        entries.append(
            entry([image_dir / fields[0]], [box], where, validate=validate, kinds=("human",), identities=ident)
        )
    return ListDataset(entries, f"celeba:{ann}")
