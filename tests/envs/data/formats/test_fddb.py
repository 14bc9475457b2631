"""FDDB loader: the ellipse-to-box geometry, folds, kept ellipses, errors with file:line."""

from __future__ import annotations

import math
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from annotation_files import raises_at, write_image, write_text

from facebox.config import ConfigError
from facebox.envs.data.formats.fddb import _ellipse_box, load_fddb


def test_fddb_ellipse_box_formula() -> None:
    """Vertical and horizontal major axes and the +0.5 shift from pixel centres to our pixel edges."""
    assert np.allclose(_ellipse_box(20, 10, math.pi / 2, 50, 40), [40.5, 20.5, 60.5, 60.5])
    assert np.allclose(_ellipse_box(20, 10, 0.0, 50, 40), [30.5, 30.5, 70.5, 50.5])
    assert np.allclose(_ellipse_box(20, 10, -math.pi / 2, 50, 40), _ellipse_box(20, 10, math.pi / 2, 50, 40))
    h = math.sqrt(250)
    assert np.allclose(_ellipse_box(20, 10, math.pi / 4, 0, 0), [0.5 - h, 0.5 - h, 0.5 + h, 0.5 + h])


def test_fddb_box_matches_rasterised_ellipse() -> None:
    """The box encloses the ellipse FDDB's evaluation rasterises (OpenCV, angle of the major axis from x)."""
    a, b, theta, cx, cy = 60.3, 37.7, 1.2, 130.2, 120.7
    mask = np.zeros((256, 256), np.uint8)
    shift = 8
    centre = (round(cx * 2**shift), round(cy * 2**shift))
    axes = (round(a * 2**shift), round(b * 2**shift))
    cv2.ellipse(mask, centre, axes, math.degrees(theta), 0, 360, 255, -1, cv2.LINE_8, shift)
    ys, xs = np.nonzero(mask)
    x1, y1, x2, y2 = _ellipse_box(a, b, theta, cx, cy)
    assert abs(x1 - xs.min()) <= 1 and abs(x2 - (xs.max() + 1)) <= 1
    assert abs(y1 - ys.min()) <= 1 and abs(y2 - (ys.max() + 1)) <= 1
    assert y2 - y1 > x2 - x1  # theta near pi/2: the major axis is (near) vertical, the box is tall


@pytest.fixture
def fddb(tmp_path: Path) -> Path:
    write_image(tmp_path / "2002" / "08" / "11" / "big" / "img_1.jpg", 200, 200)
    write_image(tmp_path / "originalPics" / "2003" / "01" / "img_2.jpg", 200, 200)
    write_text(
        tmp_path / "FDDB-folds" / "FDDB-fold-01-ellipseList.txt",
        "2002/08/11/big/img_1\n2\n20 10 1.5707963267948966 50 40  1\n20 10 0 100 100  1\n",
    )
    write_text(tmp_path / "FDDB-folds" / "FDDB-fold-02-ellipseList.txt", "2003/01/img_2\n1\n30 20 0 60 60 1\n")
    return tmp_path


def test_fddb_loads_folds_and_keeps_ellipses(fddb: Path) -> None:
    ds = load_fddb(fddb)
    assert len(ds) == 2
    assert np.allclose(ds.entries[0].boxes, [[40.5, 20.5, 60.5, 60.5], [80.5, 90.5, 120.5, 110.5]])
    assert ds.entries[0].attributes["ellipse"].shape == (2, 5)
    assert ds.entries[1].path.endswith("originalPics/2003/01/img_2.jpg")
    only2 = load_fddb(fddb, folds="2")
    assert len(only2) == 1 and np.allclose(only2.entries[0].boxes, [[30.5, 40.5, 90.5, 80.5]])
    assert len(load_fddb(fddb / "FDDB-folds" / "FDDB-fold-01-ellipseList.txt")) == 1


def test_fddb_errors(fddb: Path) -> None:
    bad = write_text(fddb / "FDDB-folds" / "FDDB-fold-03-ellipseList.txt", "2002/08/11/big/img_1\n1\n20 10 0 50\n")
    with raises_at(ValueError, bad, 3):
        load_fddb(fddb, folds="3")
    gone = write_text(fddb / "FDDB-folds" / "FDDB-fold-04-ellipseList.txt", "x/y\n1\n20 10 0 50 50 1\n")
    with raises_at(FileNotFoundError, gone, 1):
        load_fddb(fddb, folds="4")
    with pytest.raises(FileNotFoundError, match="FDDB-fold-09"):
        load_fddb(fddb, folds="9")
    with pytest.raises(ConfigError, match="folds='1,x': expected a fold number"):  # an option, not the file
        load_fddb(fddb, folds="1,x")


@pytest.mark.parametrize(
    ("ellipse", "message"),
    [
        ("-20 10 0.3", "ellipse radii must be positive"),
        ("20 -10 0.3", "ellipse radii must be positive"),
        ("0 10 0.3", "ellipse radii must be positive"),
        ("20 10 90", "the angle must be in radians"),
    ],
)
def test_fddb_rejects_impossible_ellipses(fddb: Path, ellipse: str, message: str) -> None:
    """The box formula squares the radii and takes the angle's cosine: a broken line would give a plausible box."""
    bad = write_text(fddb / "FDDB-folds" / "FDDB-fold-05-ellipseList.txt", f"2003/01/img_2\n1\n{ellipse} 60 60 1\n")
    with pytest.raises(ValueError, match=re.escape(f"{bad}:3: {message}")):
        load_fddb(bad)
