"""WIDER FACE loader on tiny fixtures: xywh conversion, kept flags, rescaling, errors with file:line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from annotation_files import boxes_of, raises_at, write_image, write_text

from facebox.envs.data.formats.wider import load_wider

WIDER_GT = """\
0--Parade/a.jpg
2
10 20 30 40 1 0 0 0 2 1
5 5 0 10 0 0 0 1 0 0
0--Parade/b.jpg
0
0 0 0 0 0 0 0 0 0 0
0--Parade/c.jpg
1
1 2 3 4 0 1 1 1 0 0
"""


@pytest.fixture
def wider(tmp_path: Path) -> Path:
    for name in ("a", "b", "c"):
        write_image(tmp_path / "WIDER_val" / "images" / "0--Parade" / f"{name}.jpg")
    write_text(tmp_path / "wider_face_split" / "wider_face_val_bbx_gt.txt", WIDER_GT)
    return tmp_path


def test_wider_converts_xywh_keeps_flags_and_skips_faceless_images(wider: Path) -> None:
    gt = wider / "wider_face_split" / "wider_face_val_bbx_gt.txt"
    counted = re.escape(f"{gt}: dropped face boxes of zero width or height: 1 (the first at {gt}:4)")
    with pytest.warns(UserWarning, match=counted):
        ds = load_wider(wider)
    assert [Path(e.path).name for e in ds.entries] == ["a.jpg", "c.jpg"]  # b has N=0; its zero line is skipped
    assert boxes_of(ds) == [[[10, 20, 40, 60]], [[1, 2, 4, 6]]]  # the zero-width box of a.jpg is dropped
    a = ds.entries[0]
    assert {k: v.tolist() for k, v in a.attributes.items()} == {
        "blur": [1],
        "expression": [0],
        "illumination": [0],
        "invalid": [0],
        "occlusion": [2],
        "pose": [1],
    }
    assert a.kinds == ("human",)
    with pytest.warns(UserWarning, match=counted):
        same = load_wider(gt)
    assert boxes_of(same) == boxes_of(ds)
    assert ds[0].boxes.shape == (1, 4) and ds[0].image.shape == (80, 100, 3)


@pytest.mark.filterwarnings("ignore:.*dropped face boxes of zero width")
def test_wider_filters_invalid_and_small(wider: Path) -> None:
    assert len(load_wider(wider, ignore_invalid=True)) == 1  # c's only face is flagged invalid
    assert [Path(e.path).name for e in load_wider(wider, min_size=5).entries] == ["a.jpg"]


def test_wider_rescales_with_sizes_file_to_stored_images(tmp_path: Path) -> None:
    gt = write_text(tmp_path / "gt.txt", "0--Parade/a.jpg\n1\n10 20 30 40 0 0 0 0 0 0\n")
    write_image(tmp_path / "flat" / "a.jpg", 50, 160)  # a flat folder: no event sub-folder
    write_text(tmp_path / "sizes.txt", "# name ow oh sw sh\n0--Parade/a.jpg 100 80 50 160\n")
    ds = load_wider(gt, images="flat", sizes="sizes.txt")  # both relative to the annotation's folder
    assert boxes_of(ds) == [[[5, 40, 20, 120]]]
    write_text(tmp_path / "sizes3.txt", "0--Parade/a.jpg 100 80\n")  # stored size read from the image
    assert boxes_of(load_wider(gt, images="flat", sizes="sizes3.txt")) == [[[5, 40, 20, 120]]]
    write_text(tmp_path / "other.txt", "0--Parade/zzz.jpg 100 80 50 160\n")
    with raises_at(ValueError, gt, 1):
        load_wider(gt, images="flat", sizes="other.txt")
    write_text(tmp_path / "wrong.txt", "0--Parade/a.jpg 100 80 60 160\n")  # the stored size is not the image's
    with pytest.raises(ValueError, match=re.escape(f"{gt}:1: the annotation gives a 60x160 image, but ") + ".*50x160"):
        load_wider(gt, images="flat", sizes="wrong.txt")


def test_wider_rescaled_file_with_difficulty_columns(tmp_path: Path) -> None:
    gt = write_text(tmp_path / "boxes.txt", "e/a.jpg\n2\n1.5 2.25 3 4 0 0 0 0 0 0 1 1 1\n7 8 9 10 0 0 0 0 0 0 0 0 1\n")
    write_image(tmp_path / "images" / "a.jpg")
    ds = load_wider(gt)
    assert np.allclose(ds.entries[0].boxes, [[1.5, 2.25, 4.5, 6.25], [7, 8, 16, 18]])
    assert ds.entries[0].attributes["easy"].tolist() == [1, 0]
    assert ds.entries[0].attributes["hard"].tolist() == [1, 1]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("e/a.jpg\n1\n1 2 3 x 0 0 0 0 0 0\n", 3, "expected numbers"),
        ("e/a.jpg\n1\n1 2 3 4 0 0 0\n", 3, "expected 10 fields"),
        ("e/a.jpg\n1\n1 2 3 4 0 0 1.5 0 1e30 0\n", 3, "expected whole numbers"),  # flags are kept as int32
        ("e/a.jpg\none\n1 2 3 4 0 0 0 0 0 0\n", 2, "whole number"),
        ("e/a.jpg\n3\n1 2 3 4 0 0 0 0 0 0\n", 2, "3 faces announced"),
        ("e/a.jpg\n1\n1 2 3 4 0 0 0 0 0 0\ne/a.jpg\n", 4, "face-count"),
        ("e/a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n1 2 3 4 0 0 0 0 0 0 1 1 1\n", 4, "fields, but"),
        ("e/a.jpg\n1\n\n1 2 3 4 0 0 0 0 0 0\ne/missing.jpg\n1\n1 2 3 4 0 0 0 0 0 0\n", 5, "image file not found"),
    ],
)
def test_wider_errors_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    write_image(tmp_path / "images" / "e" / "a.jpg")
    gt = write_text(tmp_path / "gt.txt", text)
    with pytest.raises((ValueError, FileNotFoundError), match=re.escape(f"{gt}:{line}") + ".*" + message):
        load_wider(gt)
