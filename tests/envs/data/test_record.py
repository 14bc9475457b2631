"""The record and its checks: the one box validator, the shared dataset protocol, image decoding via a loader."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from facebox.envs.data import FaceDataset, FaceImage
from facebox.envs.data.formats import load_csv
from facebox.envs.data.record import Dataset, validate_boxes
from facebox.envs.data.synthetic import SyntheticFaces
from facebox.envs.data.synthetic_video import SyntheticVideos
from facebox.envs.data.video import VideoDataset


def test_validate_boxes_clips_to_the_image_and_names_the_offending_box() -> None:
    boxes = validate_boxes([[-5, 2, 30, 90], [1, 1, 4, 4]], (20, 80), "img.jpg")
    assert boxes.dtype == np.float32 and boxes.tolist() == [[0, 2, 20, 80], [1, 1, 4, 4]]
    assert validate_boxes([], (20, 80)).shape == (0, 4)
    with pytest.raises(ValueError, match=re.escape("img.jpg: box 1 [5.0, 1.0, 5.0, 4.0] (x1, y1, x2, y2) has zero")):
        validate_boxes([[1, 1, 4, 4], [5, 1, 5, 4]], (20, 80), "img.jpg")
    with pytest.raises(ValueError, match=re.escape("a.txt:3: box [1.5, 1.0, 4.0, inf] (x1, y1, x2, y2) has a non")):
        validate_boxes([[1.5, 1, 4, np.inf]], None, "a.txt:3")
    with pytest.raises(ValueError, match="lies outside the 20x80 image"):
        validate_boxes([[20, 1, 24, 4]], (20, 80), "img.jpg")
    assert validate_boxes([[20, 1, 24, 4]], None).tolist() == [[20, 1, 24, 4]]  # no size: nothing to be outside of
    with pytest.raises(ValueError, match=r"must have shape \[N, 4\], got \(4,\)"):
        validate_boxes([1, 1, 4, 4], (20, 80))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # too large for float32: reported as infinite, without a cast warning
        with pytest.raises(ValueError, match=re.escape("a.txt:4: box [1.0, 2.0, inf, 4.0] (x1, y1, x2, y2) has a non")):
            validate_boxes([[1, 2, 1e300, 4]], None, "a.txt:4")


def test_still_and_video_datasets_share_one_protocol() -> None:
    assert issubclass(FaceDataset, Dataset) and issubclass(VideoDataset, Dataset)
    for data in (SyntheticFaces(length=5), SyntheticVideos(length=5, frames=2)):
        assert isinstance(data, Dataset)
        a, b = data.sample(np.random.default_rng(3)), data.sample(np.random.default_rng(3))
        assert (a.source if isinstance(a, FaceImage) else a.name) == (b.source if isinstance(b, FaceImage) else b.name)
        with pytest.raises(IndexError, match="index 5 out of range for a dataset of 5"):
            data[5]


def test_images_are_decoded_lazily_and_normalised(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (40, 50), dtype=np.uint8)
    rgba = rng.integers(0, 256, (40, 50, 4), dtype=np.uint8)
    deep = rng.integers(0, 65536, (40, 50, 3), dtype=np.uint16)
    assert cv2.imwrite(str(tmp_path / "gray.png"), gray)
    assert cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    assert cv2.imwrite(str(tmp_path / "deep.png"), deep)
    names = ["gray.png", "rgba.png", "deep.png"]
    table = tmp_path / "faces.csv"
    table.write_text("image,x,y,w,h\n" + "".join(f"{n},1,1,10,10\n" for n in names))
    ds = load_csv(table)  # loading reads the headers only
    assert len(ds) == 3
    g, c, d = ds[0].image, ds[1].image, ds[2].image
    assert g.shape == (40, 50, 3) and (g == gray[:, :, None]).all()  # replicated to three channels
    assert (c == rgba[:, :, 2::-1]).all()  # alpha dropped, BGR(A) on disk -> RGB
    assert d.dtype == np.uint8 and (d == (deep[:, :, ::-1] >> 8)).all()  # top 8 bits


def test_boxes_outside_the_image_fail_at_open_or_without_a_check_on_access(tmp_path: Path) -> None:
    """The CSV states no image size: the header check gives it at open; with validate=none only decoding can."""
    assert cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((20, 20, 3), np.uint8))
    table = tmp_path / "faces.csv"
    table.write_text("image,x1,y1,x2,y2\na.jpg,30,30,40,40\n")
    with pytest.raises(ValueError, match=re.escape(f"{table}:2: box") + ".*outside the 20x20 image"):
        load_csv(table)
    ds = load_csv(table, validate="none")
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'a.jpg'}: box") + ".*outside the 20x20 image"):
        ds[0]
    table.write_text("image,x1,y1,x2,y2\na.jpg,10,10,40,40\n")
    assert load_csv(table).entries[0].boxes.tolist() == [[10, 10, 20, 20]]  # clipped at open, as on access
