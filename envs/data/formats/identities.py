"""Identity sets for metric learning: one folder per person (ORL / AT&T), and CelebA's identity list with a face
detector's boxes.

Metric learning needs who is who more than where the face is, and these sets say it two ways. A folder-per-identity
set (``folders:PATH``) names the person by folder and has faces filling the image, so the box is the whole image.
CelebA names the person in ``identity_CelebA.txt`` (``<image> <identity>``) and, in-the-wild, needs a face box: here
a detector's (MTCNN) table, whose boxes are pseudo-labels. Verification is measured on identities a model has not
trained on, so ``exclude_pairs`` leaves out every identity of an LFW-style pairs file.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

from facebox.envs.data.formats.common import count, entry, kind_option, resolve
from facebox.envs.data.images import Validation, check_image, image_size
from facebox.envs.data.parsing import IMAGE_SUFFIXES, csv_rows, existing, numbers, text_lines
from facebox.envs.data.record import ListDataset

__all__ = ["load_identity_folders", "load_celeba_identities", "pair_identities"]

_BOX_HEADER = ["image", "n_faces", "rank", "x0", "y0", "x1", "y1", "confidence"]


def _natural(name: str) -> list:
    """Sort key that puts ``s2`` before ``s10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def load_identity_folders(path: str | os.PathLike, kind: str = "human", validate: Validation = "header") -> ListDataset:
    """One sub-folder of ``path`` per identity (ORL's ``s1/1.pgm``), each image one face that fills it.

    Identities are the folders' positions in natural order (``s1`` -> 0, ``s2`` -> 1, ..., ``s10`` -> 9); the
    box is the whole image. Files that are not images (a README) are skipped; a folder without images is an error,
    since it is an identity with no face.
    """
    root = existing(path)
    folders = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=_by_name)
    if not folders:
        raise ValueError(f"{root}: no identity folders (one sub-folder of images per person)")
    face_kind = kind_option(kind)
    entries = []
    for identity, folder in enumerate(folders):
        images = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_by_name)
        if not images:
            raise ValueError(f"{folder}: identity folder without images ({', '.join(IMAGE_SUFFIXES)})")
        for image in images:
            size = check_image(image, validate) or image_size(image)  # the box needs the size, whatever is checked
            box = [[0.0, 0.0, float(size[0]), float(size[1])]]
            entries.append(
                entry([image], box, str(image), validate="none", size=size, kinds=(face_kind,), identities=(identity,))
            )
    return ListDataset(entries, f"folders:{root}")


def _by_name(path: Path) -> list:
    return _natural(path.name)


def pair_identities(path: str | os.PathLike) -> set[int]:
    """Every identity named in an LFW-style pairs file (``id img1 img2`` same-pair lines, ``id1 img1 id2 img2``
    different-pair lines, ``#`` comments, LFW's ``folds pairs`` count line first): the identities a verification
    measurement must not have trained on."""
    path = existing(path, "pairs file")
    out = set()
    lines = [(no, line) for no, line in text_lines(path) if not line.lstrip().startswith("#")]
    if lines and len(lines[0][1].split()) == 2 and all(f.isdigit() for f in lines[0][1].split()):  # LFW's "10 300"
        lines = lines[1:]
    for no, line in lines:
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) not in (3, 4):
            raise ValueError(f"{path}:{no}: expected 'id img1 img2' or 'id1 img1 id2 img2', got {len(fields)} fields")
        ids = fields[:1] if len(fields) == 3 else fields[::2]
        out.update(count(i, f"{path}:{no}", "an identity") for i in ids)
    return out


def load_celeba_identities(
    path: str | os.PathLike,
    boxes: str = "DERIVED_mtcnn_face_boxes.tsv",
    images: str = "images",
    exclude_pairs: str = "",
    validate: Validation = "header",
) -> ListDataset:
    """CelebA's identity list (``path``: ``identity_CelebA.txt`` or a file of its lines) with one detector box per
    image from the ``boxes`` table (:func:`_rank0_boxes`; 0-based xyxy in the stored image's pixels; the rank-0,
    largest, detection is the labelled person's face nearly always).

    Images the detector found no face in are left out with a counted warning; ``exclude_pairs`` (a pairs file)
    leaves out its identities. ``boxes`` and ``images`` are relative to ``path``'s folder unless they exist as given.
    """
    ann = existing(path)
    base = ann.parent
    table = resolve(boxes, base)
    excluded = pair_identities(resolve(exclude_pairs, base)) if exclude_pairs else set()
    detections = _rank0_boxes(existing(table, "face box table"))
    image_dir = resolve(images, base)
    entries, missing = [], []
    for no, line in text_lines(ann):
        where = f"{ann}:{no}"
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(f"{where}: expected '<image> <identity>', got {len(fields)} fields")
        name, identity = fields[0], count(fields[1], where, "the identity")
        if identity in excluded:
            continue
        if name not in detections:
            raise ValueError(f"{where}: image {name!r} has no line in {table}")
        box, size = detections[name]
        if box is None:
            missing.append(name)
            continue
        entries.append(
            entry(
                [image_dir / name], [box], where, validate=validate, size=size, kinds=("human",), identities=(identity,)
            )
        )
    if missing:
        warnings.warn(
            f"{table}: {len(missing)} images without a detected face left out ({', '.join(missing[:3])}, ...)",
            stacklevel=2,
        )
    if not entries:
        raise ValueError(f"{ann}: no image left (all excluded or without a face)")
    return ListDataset(entries, f"celeba_ids:{ann}")


def _rank0_boxes(table: Path) -> dict[str, tuple[list[float] | None, tuple[int, int] | None]]:
    """Image -> its rank-0 detection (xyxy, or None when the detector found no face) and the stated image size.

    Two layouts: one line per detection under the header ``image n_faces rank x0 y0 x1 y1 confidence``
    (``celeba_identities``), or one line per image, ``image w h n_faces`` then one ``x0 y0 x1 y1 confidence`` column
    per face, largest first (``celeba_extra``).
    """
    rows = csv_rows(table)
    per_detection = rows[0][1] == _BOX_HEADER
    out: dict[str, tuple[list[float] | None, tuple[int, int] | None]] = {}
    for no, fields in rows[1:] if per_detection else rows:
        where = f"{table}:{no}"
        if per_detection:
            if len(fields) >= 2 and fields[1] == "0":
                out.setdefault(fields[0], (None, None))
            elif len(fields) != len(_BOX_HEADER):
                raise ValueError(
                    f"{where}: expected {len(_BOX_HEADER)} fields ({' '.join(_BOX_HEADER)}), got {len(fields)}"
                )
            elif fields[2] == "0":
                out[fields[0]] = (numbers(fields[3:7], where), None)
            continue
        if len(fields) < 4:
            raise ValueError(f"{where}: expected 'image w h n_faces' then one 'x0 y0 x1 y1 confidence' column per face")
        n = count(fields[3], where, "the number of faces")
        if len(fields) != 4 + n:
            raise ValueError(f"{where}: {n} faces announced but {len(fields) - 4} face columns given")
        size = (count(fields[1], where, "the width"), count(fields[2], where, "the height"))
        face = fields[4].split() if n else None
        if face is not None and len(face) != 5:
            raise ValueError(f"{where}: expected a face column 'x0 y0 x1 y1 confidence', got {fields[4]!r}")
        out[fields[0]] = (None if face is None else numbers(face[:4], where), size)
    return out
