"""CelebA loader: boxes, identities and the checks of the count and header lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from annotation_files import boxes_of, raises_at, write_image, write_text

from facebox.envs.data.formats.celeba import load_celeba


@pytest.fixture
def celeba(tmp_path: Path) -> Path:
    for name in ("000001.jpg", "000002.jpg"):
        write_image(tmp_path / "Img" / "img_celeba" / name)
    write_text(
        tmp_path / "Anno" / "list_bbox_celeba.txt",
        "2\nimage_id x_1 y_1 width height\n000001.jpg    10  20  30  40\n000002.jpg 0 0 5 6\n",
    )
    write_text(tmp_path / "Anno" / "identity_CelebA.txt", "000001.jpg 2880\n000002.jpg 17\n")
    return tmp_path


def test_celeba_boxes_and_identities(celeba: Path) -> None:
    ds = load_celeba(celeba)
    assert boxes_of(ds) == [[[10, 20, 40, 60]], [[0, 0, 5, 6]]]
    assert [e.identities for e in ds.entries] == [(2880,), (17,)]
    assert boxes_of(load_celeba(celeba / "Anno" / "list_bbox_celeba.txt")) == boxes_of(ds)


def test_celeba_errors(celeba: Path) -> None:
    ann = celeba / "Anno" / "list_bbox_celeba.txt"
    write_text(ann, "3\nimage_id x_1 y_1 width height\n000001.jpg 10 20 30 40\n")
    with raises_at(ValueError, ann, 1):
        load_celeba(celeba)
    write_text(ann, "1\nimage x y w h\n000001.jpg 10 20 30 40\n")
    with raises_at(ValueError, ann, 2):
        load_celeba(celeba)
    write_text(ann, "1\nimage_id x_1 y_1 width height\n000001.jpg 10 20 0 40\n")
    with pytest.raises(ValueError, match=re.escape(f"{ann}:3") + ".*zero or negative area"):
        load_celeba(celeba)
    write_text(ann, "1\nimage_id x_1 y_1 width height\n000009.jpg 10 20 30 40\n")
    with raises_at(FileNotFoundError, ann, 3):
        load_celeba(celeba)
