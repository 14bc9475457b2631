"""FDDB: ``FDDB-fold-XX-ellipseList.txt`` files of rotated face ellipses plus the ``originalPics`` image tree."""

from __future__ import annotations

import math
import os

import numpy as np

from facebox.config import ConfigError
from facebox.envs.data.formats.common import blocks, checked_box, count, entry, face_fields, image_name, resolve
from facebox.envs.data.images import Validation
from facebox.envs.data.parsing import existing, numbers, text_lines
from facebox.envs.data.record import ListDataset

__all__ = ["load_fddb"]

_LAYOUT = "'major_radius minor_radius angle center_x center_y 1'"


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


def load_fddb(
    path: str | os.PathLike, folds: str = "", images: str = "", validate: Validation = "header"
) -> ListDataset:
    """FDDB: ``FDDB-folds/FDDB-fold-XX-ellipseList.txt`` files plus the ``originalPics`` image tree.

    ``path`` is the FDDB root (holding ``FDDB-folds/``), the folds folder, or one ellipse-list file. ``folds``
    picks folds of a folder, e.g. ``"1,2"`` (default: every ``*-ellipseList.txt``). Layout per image: a line
    ``2002/08/11/big/img_591`` (no extension; ``.jpg`` is added), the face count, then one
    ``major_radius minor_radius angle center_x center_y 1`` line per face: an ellipse whose major axis makes
    ``angle`` radians with the x axis (about +-pi/2 for upright faces, i.e. the major axis is vertical).
    Boxes are the enclosing axis-aligned boxes (derivation in :func:`_ellipse_box`); the raw ellipse
    ``(major, minor, angle, cx, cy)`` is kept as attribute ``ellipse`` for FDDB's own ellipse-based scoring.
    Radii must be positive and the angle within +-2 pi: the box formula squares the radii and takes the angle's
    cosine, so a broken line (a negative radius, an angle in degrees) would give a plausible box unnoticed.
    Images: ``images`` or the FDDB root, looked up as ``<images>/<name>.jpg`` then
    ``<images>/originalPics/<name>.jpg``. Ellipses that cross the frame are clipped to the size in the image header
    (``validate``, see :mod:`facebox.envs.data.images`; with ``none``, when the image is read).
    """
    path = existing(path)
    if path.is_file():
        files, folds_dir = [path], path.parent
    else:
        folds_dir = path / "FDDB-folds" if (path / "FDDB-folds").is_dir() else path
        if folds:
            where = f"folds={folds!r}"
            numbered = [count(k, where, "a fold number", ConfigError) for k in folds.split(",") if k.strip()]
            files = [folds_dir / f"FDDB-fold-{k:02d}-ellipseList.txt" for k in numbered]
            for file in files:
                existing(file)
        else:
            files = sorted(folds_dir.glob("FDDB-fold-*-ellipseList.txt"))
            if not files:
                raise FileNotFoundError(f"{folds_dir}: no FDDB-fold-*-ellipseList.txt files")
    root = folds_dir.parent if folds_dir.name == "FDDB-folds" else folds_dir
    image_root = resolve(images, folds_dir) if images else root

    entries = []
    for file in files:
        for name, where, faces in blocks(text_lines(file), file):
            boxes, ellipses = [], []
            for face_where, fields in face_fields(faces, file, (5, 6), _LAYOUT):
                ellipse = numbers(fields[:5], face_where)
                if min(ellipse[:2]) <= 0:
                    raise ValueError(f"{face_where}: ellipse radii must be positive, got {ellipse[0]} and {ellipse[1]}")
                if abs(ellipse[2]) > 2 * math.pi:
                    raise ValueError(f"{face_where}: the angle must be in radians (at most 2 pi), got {ellipse[2]}")
                boxes.append(checked_box(_ellipse_box(*ellipse), face_where))
                ellipses.append(ellipse)
            file_name = image_name(name)
            candidates = [image_root / file_name, image_root / "originalPics" / file_name]
            attributes = {"ellipse": np.asarray(ellipses, np.float32)}
            kinds = ("human",) * len(boxes)
            entries.append(entry(candidates, boxes, where, validate=validate, kinds=kinds, attributes=attributes))
    return ListDataset(entries, f"fddb:{path}")
