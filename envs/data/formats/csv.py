"""A plain image folder plus a CSV/TSV with one row per face, columns named by a header or the ``columns`` option."""

from __future__ import annotations

import os

import numpy as np

from facebox.envs.boxes import xywh_to_xyxy
from facebox.envs.data.formats.common import checked_box, count, entry, kind_option, resolve
from facebox.envs.data.images import Validation
from facebox.envs.data.parsing import csv_rows, existing, floats, numbers
from facebox.envs.data.record import KINDS, ListDataset

__all__ = ["load_csv"]

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


def load_csv(
    path: str | os.PathLike, images: str = "", columns: str = "", kind: str = "", validate: Validation = "header"
) -> ListDataset:
    """A plain image folder plus a CSV/TSV with one row per face; rows of the same image form one record.

    ``path`` is the table (or a folder holding exactly one ``*.csv``/``*.tsv``); images are
    ``<images>/<image column>``, ``images`` defaulting to the table's folder. The delimiter (tab, comma, semicolon
    or whitespace) is sniffed from the first row; ``#`` lines are comments. Columns are named by the first row
    (header) or, for files without one, by ``columns`` (e.g. ``image,width,height,n,x0,y0,x1,y1,how,note``;
    a first row equal to those names is skipped). Recognised names, case-insensitive:

    - image: one of ``image, image_id, image_path, file, filename, file_name, path, img, name``;
    - box, 0-based edges, used unchanged: ``x0 y0 x1 y1`` | ``x1 y1 x2 y2`` | ``xmin ymin xmax ymax`` |
      ``left top right bottom``; or 0-based ``x y w h`` | ``x y width height`` | ``left top width height``
      (``x2 = x + w``); the first complete set in this order wins;
    - image size (must be the image's real size): ``image_width image_height``, or ``width height`` when the box
      is given by corners (otherwise ``width``/``height`` are the box size);
    - ``kind`` (human/animal; empty cells take the ``kind`` option) and ``identity`` (whole number or empty).

    Every other column is kept as an attribute: float when all its cells are numbers, else text. ``validate``
    picks the check of each image when the dataset is opened (:mod:`facebox.envs.data.images`).
    """
    path = existing(path)
    if path.is_dir():
        tables = sorted([*path.glob("*.csv"), *path.glob("*.tsv")])
        if len(tables) != 1:
            raise FileNotFoundError(f"{path}: expected exactly one *.csv or *.tsv file, found {len(tables)}")
        path = tables[0]
    default_kind = kind_option(kind)
    image_dir = resolve(images, path.parent) if images else path.parent
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
        raise ValueError(f"{header_where}: no image column in {names}; name one of {list(_IMAGE_COLUMNS)}")
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
        values = numbers([fields[index[n]] for n in box_cols], where)
        size = None
        if size_cols is not None:
            w, h = numbers([fields[index[n]] for n in size_cols], where)
            size = (int(w), int(h))
        box = checked_box(xywh_to_xyxy(values) if xywh else values, where, size)
        face_kind = fields[index["kind"]].strip() if "kind" in index else ""
        if face_kind and face_kind not in KINDS:
            raise ValueError(f"{where}: unknown kind {face_kind!r}; expected one of {KINDS} or empty")
        identity = fields[index["identity"]].strip() if "identity" in index else ""
        group = groups.setdefault(
            fields[image_col].strip(), {"where": where, "size": size, "boxes": [], "kinds": [], "ids": [], "extra": []}
        )
        group["boxes"].append(box)
        group["kinds"].append(face_kind or default_kind)
        group["ids"].append(count(identity, where, "the identity") if identity else None)
        group["extra"].append([fields[index[n]] for n in extra])

    numeric = [floats(row[k] for g in groups.values() for row in g["extra"]) is not None for k in range(len(extra))]
    entries = []
    for image, group in groups.items():
        attributes = {
            name: np.asarray([row[k] for row in group["extra"]], np.float32 if numeric[k] else str)
            for k, name in enumerate(extra)
        }
        entries.append(
            entry(
                [image_dir / image],
                group["boxes"],
                group["where"],
                validate=validate,
                size=group["size"],
                kinds=group["kinds"],
                identities=group["ids"],
                attributes=attributes,
            )
        )
    return ListDataset(entries, f"csv:{path}")
