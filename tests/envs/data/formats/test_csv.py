"""CSV/TSV loader: header and ``columns`` naming, xyxy and xywh boxes, grouping per image, errors with file:line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from annotation_files import boxes_of, write_image, write_text

from facebox.envs.data.formats.csv import load_csv


def test_csv_groups_rows_per_image_and_keeps_columns(tmp_path: Path) -> None:
    write_image(tmp_path / "a.jpg")
    write_image(tmp_path / "sub" / "b.png")
    table = write_text(
        tmp_path / "faces.csv",
        "image,x1,y1,x2,y2,kind,identity,score,tag\n"
        "a.jpg,1,2,30,40,human,3,0.5,x\n"
        "sub/b.png,5,5,10,10,animal,,1,y\n"
        "a.jpg,50,20,60,30,,4,2,z\n",
    )
    ds = load_csv(table, kind="human")
    assert boxes_of(ds) == [[[1, 2, 30, 40], [50, 20, 60, 30]], [[5, 5, 10, 10]]]
    a, b = ds.entries
    assert a.kinds == ("human", "human") and b.kinds == ("animal",)
    assert a.identities == (3, 4) and b.identities == (None,)
    assert a.attributes["score"].dtype == np.float32 and a.attributes["score"].tolist() == [0.5, 2.0]
    assert a.attributes["tag"].tolist() == ["x", "z"]
    assert load_csv(tmp_path).entries[0].path == a.path  # the folder holding one table


def test_csv_xywh_header_and_tab_delimiter(tmp_path: Path) -> None:
    write_image(tmp_path / "a.jpg")
    table = write_text(tmp_path / "faces.tsv", "file_name\tx\ty\twidth\theight\na.jpg\t10\t20\t30\t40\n")
    assert boxes_of(load_csv(table)) == [[[10, 20, 40, 60]]]
    table = write_text(tmp_path / "faces2.txt", "# comment\nimg xmin ymin w h\nn/a 0 0 1 1\n".replace("n/a", "a.jpg"))
    with pytest.raises(ValueError, match="no box columns"):  # xmin ymin w h is not an accepted set
        load_csv(table)


def test_csv_columns_option_without_header_and_image_size(tmp_path: Path) -> None:
    write_image(tmp_path / "a.jpg")
    table = write_text(
        tmp_path / "boxes.tsv",
        "# derived boxes\na.jpg\t100\t80\t1\t90.5\t2\t120\t30\thull\t\n",
    )
    columns = "image,width,height,n,x0,y0,x1,y1,how,note"
    ds = load_csv(table, columns=columns)
    assert boxes_of(ds) == [[[90.5, 2, 100, 30]]]  # width/height are the image size here: x1 clipped to 100
    assert ds.entries[0].attributes["how"].tolist() == ["hull"]
    write_text(table, "a.jpg\t100\t80\t1\t100\t2\t120\t30\thull\t\n")
    with pytest.raises(ValueError, match=re.escape(f"{table}:1") + ".*outside the 100x80 image"):
        load_csv(table, columns=columns)


def test_csv_semicolon_delimiter_and_a_wrong_one(tmp_path: Path) -> None:
    """Spreadsheets with a decimal comma write semicolons; an unrecognised delimiter shows in the column names."""
    write_image(tmp_path / "a.jpg")
    table = write_text(tmp_path / "faces.csv", "image;x1;y1;x2;y2;note\na.jpg;1;2;30;40;left, smiling\n")
    ds = load_csv(table)
    assert boxes_of(ds) == [[[1, 2, 30, 40]]] and ds.entries[0].attributes["note"].tolist() == ["left, smiling"]
    table = write_text(tmp_path / "faces.csv", "image|x1|y1|x2|y2\na.jpg|1|2|30|40\n")
    with pytest.raises(ValueError, match=re.escape(f"{table}:1 (header): no image column in ['image|x1|y1|x2|y2']")):
        load_csv(table)


def test_csv_stated_image_size_must_be_the_real_one(tmp_path: Path) -> None:
    write_image(tmp_path / "a.jpg", 100, 80)
    table = write_text(tmp_path / "faces.csv", "image,image_width,image_height,x1,y1,x2,y2\na.jpg,200,160,1,2,3,4\n")
    message = re.escape(f"{table}:2: the annotation gives a 200x160 image, but {tmp_path / 'a.jpg'} is 100x80")
    with pytest.raises(ValueError, match=message):
        load_csv(table)
    assert len(load_csv(table, validate="none")) == 1  # unchecked, the stated size is trusted


@pytest.mark.parametrize(
    ("rows", "line", "exc", "message"),
    [
        ("a.jpg,1,2,3\n", 2, ValueError, "expected 5 fields"),
        ("a.jpg,1,2,3,four\n", 2, ValueError, "expected numbers"),
        ("a.jpg,1,2,30,40\na.jpg,5,5,5,9\n", 3, ValueError, "zero or negative area"),
        ("a.jpg,1,2,30,40\n\nmissing.jpg,1,2,3,4\n", 4, FileNotFoundError, "image file not found"),
    ],
)
def test_csv_errors_name_file_and_line(tmp_path: Path, rows: str, line: int, exc: type, message: str) -> None:
    write_image(tmp_path / "a.jpg")
    table = write_text(tmp_path / "faces.csv", "image,x1,y1,x2,y2\n" + rows)
    with pytest.raises(exc, match=re.escape(f"{table}:{line}") + ".*" + message):
        load_csv(table)
