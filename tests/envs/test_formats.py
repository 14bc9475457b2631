"""Real-dataset loaders on tiny fixtures written here: exact box conventions, kept attributes, errors with file:line."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from facebox.envs.data import open_dataset
from facebox.envs.data.formats import (
    load_celeba,
    load_coco,
    load_csv,
    load_dlib_xml,
    load_fddb,
    load_voc,
    load_wider,
)


def _image(path: Path, width: int = 100, height: int = 80, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), pixels)
    return path


def _text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _raises(exc: type[Exception], file: Path, line: int | str):
    """Expect ``exc`` whose message names ``file:line`` (or ``file: key``)."""
    sep = ":" if isinstance(line, int) else ": "
    return pytest.raises(exc, match=re.escape(f"{file}{sep}{line}"))


def _boxes(ds) -> list[list[float]]:
    return [e.boxes.tolist() for e in ds.entries]


# ----------------------------------------------------------------------------------------------------- WIDER

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
        _image(tmp_path / "WIDER_val" / "images" / "0--Parade" / f"{name}.jpg")
    _text(tmp_path / "wider_face_split" / "wider_face_val_bbx_gt.txt", WIDER_GT)
    return tmp_path


def test_wider_converts_xywh_keeps_flags_and_skips_faceless_images(wider: Path) -> None:
    ds = load_wider(wider)
    assert [Path(e.path).name for e in ds.entries] == ["a.jpg", "c.jpg"]  # b has N=0; its zero line is skipped
    assert _boxes(ds) == [[[10, 20, 40, 60]], [[1, 2, 4, 6]]]  # the zero-width box of a.jpg is dropped
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
    same = load_wider(wider / "wider_face_split" / "wider_face_val_bbx_gt.txt")
    assert _boxes(same) == _boxes(ds)
    assert ds[0].boxes.shape == (1, 4) and ds[0].image.shape == (80, 100, 3)


def test_wider_filters_invalid_and_small(wider: Path) -> None:
    assert len(load_wider(wider, ignore_invalid=True)) == 1  # c's only face is flagged invalid
    assert [Path(e.path).name for e in load_wider(wider, min_size=5).entries] == ["a.jpg"]


def test_wider_rescales_with_sizes_file_to_stored_images(tmp_path: Path) -> None:
    gt = _text(tmp_path / "gt.txt", "0--Parade/a.jpg\n1\n10 20 30 40 0 0 0 0 0 0\n")
    _image(tmp_path / "flat" / "a.jpg", 50, 160)  # a flat folder: no event sub-folder
    _text(tmp_path / "sizes.txt", "# name ow oh sw sh\n0--Parade/a.jpg 100 80 50 160\n")
    ds = load_wider(gt, images="flat", sizes="sizes.txt")  # both relative to the annotation's folder
    assert _boxes(ds) == [[[5, 40, 20, 120]]]
    _text(tmp_path / "sizes3.txt", "0--Parade/a.jpg 100 80\n")  # stored size read from the image
    assert _boxes(load_wider(gt, images="flat", sizes="sizes3.txt")) == [[[5, 40, 20, 120]]]
    _text(tmp_path / "other.txt", "0--Parade/zzz.jpg 100 80 50 160\n")
    with _raises(ValueError, gt, 1):
        load_wider(gt, images="flat", sizes="other.txt")


def test_wider_rescaled_file_with_difficulty_columns(tmp_path: Path) -> None:
    gt = _text(tmp_path / "boxes.txt", "e/a.jpg\n2\n1.5 2.25 3 4 0 0 0 0 0 0 1 1 1\n7 8 9 10 0 0 0 0 0 0 0 0 1\n")
    _image(tmp_path / "images" / "a.jpg")
    ds = load_wider(gt)
    assert np.allclose(ds.entries[0].boxes, [[1.5, 2.25, 4.5, 6.25], [7, 8, 16, 18]])
    assert ds.entries[0].attributes["easy"].tolist() == [1, 0]
    assert ds.entries[0].attributes["hard"].tolist() == [1, 1]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("e/a.jpg\n1\n1 2 3 x 0 0 0 0 0 0\n", 3, "expected numbers"),
        ("e/a.jpg\n1\n1 2 3 4 0 0 0\n", 3, "expected 10 fields"),
        ("e/a.jpg\none\n1 2 3 4 0 0 0 0 0 0\n", 2, "whole number"),
        ("e/a.jpg\n3\n1 2 3 4 0 0 0 0 0 0\n", 2, "3 faces announced"),
        ("e/a.jpg\n1\n1 2 3 4 0 0 0 0 0 0\ne/a.jpg\n", 4, "face-count"),
        ("e/a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n1 2 3 4 0 0 0 0 0 0 1 1 1\n", 4, "fields, but"),
        ("e/a.jpg\n1\n\n1 2 3 4 0 0 0 0 0 0\ne/missing.jpg\n1\n1 2 3 4 0 0 0 0 0 0\n", 5, "image file not found"),
    ],
)
def test_wider_errors_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    _image(tmp_path / "images" / "e" / "a.jpg")
    gt = _text(tmp_path / "gt.txt", text)
    with pytest.raises((ValueError, FileNotFoundError), match=re.escape(f"{gt}:{line}") + ".*" + message):
        load_wider(gt)


# ------------------------------------------------------------------------------------------------------ FDDB


def test_fddb_ellipse_box_formula() -> None:
    """Vertical and horizontal major axes and the +0.5 shift from pixel centres to our pixel edges."""
    from facebox.envs.data.formats import _ellipse_box

    assert np.allclose(_ellipse_box(20, 10, math.pi / 2, 50, 40), [40.5, 20.5, 60.5, 60.5])
    assert np.allclose(_ellipse_box(20, 10, 0.0, 50, 40), [30.5, 30.5, 70.5, 50.5])
    assert np.allclose(_ellipse_box(20, 10, -math.pi / 2, 50, 40), _ellipse_box(20, 10, math.pi / 2, 50, 40))
    h = math.sqrt(250)
    assert np.allclose(_ellipse_box(20, 10, math.pi / 4, 0, 0), [0.5 - h, 0.5 - h, 0.5 + h, 0.5 + h])


def test_fddb_box_matches_rasterised_ellipse() -> None:
    """The box encloses the ellipse FDDB's evaluation rasterises (OpenCV, angle of the major axis from x)."""
    from facebox.envs.data.formats import _ellipse_box

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
    _image(tmp_path / "2002" / "08" / "11" / "big" / "img_1.jpg", 200, 200)
    _image(tmp_path / "originalPics" / "2003" / "01" / "img_2.jpg", 200, 200)
    _text(
        tmp_path / "FDDB-folds" / "FDDB-fold-01-ellipseList.txt",
        "2002/08/11/big/img_1\n2\n20 10 1.5707963267948966 50 40  1\n20 10 0 100 100  1\n",
    )
    _text(tmp_path / "FDDB-folds" / "FDDB-fold-02-ellipseList.txt", "2003/01/img_2\n1\n30 20 0 60 60 1\n")
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
    bad = _text(fddb / "FDDB-folds" / "FDDB-fold-03-ellipseList.txt", "2002/08/11/big/img_1\n1\n20 10 0 50\n")
    with _raises(ValueError, bad, 3):
        load_fddb(fddb, folds="3")
    gone = _text(fddb / "FDDB-folds" / "FDDB-fold-04-ellipseList.txt", "x/y\n1\n20 10 0 50 50 1\n")
    with _raises(FileNotFoundError, gone, 1):
        load_fddb(fddb, folds="4")
    with pytest.raises(FileNotFoundError, match="FDDB-fold-09"):
        load_fddb(fddb, folds="9")


# ---------------------------------------------------------------------------------------------------- CelebA


@pytest.fixture
def celeba(tmp_path: Path) -> Path:
    for name in ("000001.jpg", "000002.jpg"):
        _image(tmp_path / "Img" / "img_celeba" / name)
    _text(
        tmp_path / "Anno" / "list_bbox_celeba.txt",
        "2\nimage_id x_1 y_1 width height\n000001.jpg    10  20  30  40\n000002.jpg 0 0 5 6\n",
    )
    _text(tmp_path / "Anno" / "identity_CelebA.txt", "000001.jpg 2880\n000002.jpg 17\n")
    return tmp_path


def test_celeba_boxes_and_identities(celeba: Path) -> None:
    ds = load_celeba(celeba)
    assert _boxes(ds) == [[[10, 20, 40, 60]], [[0, 0, 5, 6]]]
    assert [e.identities for e in ds.entries] == [(2880,), (17,)]
    assert _boxes(load_celeba(celeba / "Anno" / "list_bbox_celeba.txt")) == _boxes(ds)


def test_celeba_errors(celeba: Path) -> None:
    ann = celeba / "Anno" / "list_bbox_celeba.txt"
    _text(ann, "3\nimage_id x_1 y_1 width height\n000001.jpg 10 20 30 40\n")
    with _raises(ValueError, ann, 1):
        load_celeba(celeba)
    _text(ann, "1\nimage x y w h\n000001.jpg 10 20 30 40\n")
    with _raises(ValueError, ann, 2):
        load_celeba(celeba)
    _text(ann, "1\nimage_id x_1 y_1 width height\n000001.jpg 10 20 0 40\n")
    with pytest.raises(ValueError, match=re.escape(f"{ann}:3") + ".*zero or negative area"):
        load_celeba(celeba)
    _text(ann, "1\nimage_id x_1 y_1 width height\n000009.jpg 10 20 30 40\n")
    with _raises(FileNotFoundError, ann, 3):
        load_celeba(celeba)


# ------------------------------------------------------------------------------------------------------ dlib

DLIB_XML = """<?xml version='1.0' encoding='ISO-8859-1'?>
<?xml-stylesheet type='text/xsl' href='image_metadata_stylesheet.xsl'?>
<dataset>
<images>
  <image file='pics/a.jpg' width='100' height='80'>
    <box top='10' left='20' width='30' height='31'>
      <part name='01' x='25' y='15'/>
      <part name='00' x='21' y='11'/>
    </box>
    <box top='0' left='0' width='5' height='5' ignore='1'/>
    <box top='-4' left='90' width='20' height='20'/>
  </image>
  <image file='pics/b.jpg'>
  </image>
</images>
</dataset>
"""


def test_dlib_boxes_ignore_and_landmarks(tmp_path: Path) -> None:
    _image(tmp_path / "pics" / "a.jpg")
    xml = _text(tmp_path / "faces.xml", DLIB_XML)
    ds = load_dlib_xml(xml)
    assert len(ds) == 1  # b.jpg has no box (and need not exist)
    assert _boxes(ds) == [[[20, 10, 50, 41], [90, 0, 100, 16]]]  # the second is clipped to the 100x80 image
    landmarks = ds.entries[0].attributes["landmarks"]
    assert landmarks.shape == (2, 2, 2)
    assert landmarks[0].tolist() == [[21.5, 11.5], [25.5, 15.5]]  # ordered by part name, pixel centres
    assert np.isnan(landmarks[1]).all()
    kept = load_dlib_xml(xml, kind="animal", keep_ignored=True)
    assert kept.entries[0].attributes["ignore"].tolist() == [False, True, False]
    assert kept.entries[0].kinds == ("animal",) * 3


def test_dlib_errors(tmp_path: Path) -> None:
    _image(tmp_path / "pics" / "a.jpg")
    xml = _text(tmp_path / "bad.xml", DLIB_XML.replace("top='10'", "top='ten'"))
    with _raises(ValueError, xml, 6):
        load_dlib_xml(xml)
    xml = _text(tmp_path / "gone.xml", DLIB_XML.replace("pics/a.jpg", "pics/zz.jpg"))
    with _raises(FileNotFoundError, xml, 5):
        load_dlib_xml(xml)
    xml = _text(tmp_path / "broken.xml", DLIB_XML.replace("</image>\n  <image", "<image", 1))
    with pytest.raises(ValueError, match=re.escape(f"{xml}:") + r"\d+: malformed XML"):
        load_dlib_xml(xml)
    xml = _text(tmp_path / "out.xml", DLIB_XML.replace("left='90'", "left='120'"))
    with pytest.raises(ValueError, match=re.escape(f"{xml}:11") + ".*outside the 100x80 image"):
        load_dlib_xml(xml)


# ------------------------------------------------------------------------------------------------------- VOC


def _voc_xml(filename: str, objects: list[tuple[str, tuple[int, int, int, int]]], size=(100, 80)) -> str:
    parts = [
        f"<annotation>\n<folder>Images</folder>\n<filename>{filename}</filename>\n"
        f"<path>P:\\labeller\\{filename}</path>\n<size><width>{size[0]}</width><height>{size[1]}</height>"
        "<depth>3</depth></size>\n"
    ]
    for name, (x1, y1, x2, y2) in objects:
        parts.append(
            f"<object>\n<name>{name}</name>\n<difficult>{int(name == 'hard')}</difficult>\n"
            f"<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox>\n</object>\n"
        )
    return "".join(parts) + "</annotation>\n"


@pytest.fixture
def voc(tmp_path: Path) -> Path:
    """LabelImg-style split folders (annotations/train + images/), like the shared cat-face set."""
    for name in ("cat.1", "cat.2", "cat.3"):
        _image(tmp_path / "images" / f"{name}.jpg")
    _text(
        tmp_path / "annotations" / "train" / "cat.1.xml",
        _voc_xml("cat.1.jpg", [("cat_face", (11, 21, 40, 60)), ("cat_eyes", (15, 30, 20, 35))]),
    )
    _text(tmp_path / "annotations" / "test" / "cat.2.xml", _voc_xml("cat.2.jpg", [("cat_eyes", (1, 1, 5, 5))]))
    _text(
        tmp_path / "annotations" / "test" / "cat.3.xml",
        _voc_xml("cat.3", [("cat_face", (1, 1, 100, 80)), ("cat_face", (50, 50, 120, 90))]),
    )
    _text(tmp_path / "annotations" / "notes.xml", "<notes/>")  # not a VOC annotation: ignored
    return tmp_path


def test_voc_converts_one_based_and_filters_classes(voc: Path) -> None:
    ds = load_voc(voc, classes=("cat_face",), kind="animal")
    assert [Path(e.path).name for e in ds.entries] == ["cat.3.jpg", "cat.1.jpg"]  # cat.2 has no cat_face
    assert _boxes(ds) == [[[0, 0, 100, 80], [49, 49, 100, 80]], [[10, 20, 40, 60]]]  # 2nd box clipped
    assert ds.entries[1].kinds == ("animal",)
    assert ds.entries[1].attributes["label"].tolist() == ["cat_face"]
    everything = load_voc(voc)
    assert sum(len(e.boxes) for e in everything.entries) == 5
    assert all(k is None for e in everything.entries for k in e.kinds)


def test_voc_devkit_layout_single_file_and_flags(tmp_path: Path) -> None:
    _image(tmp_path / "JPEGImages" / "2008_1.jpg")
    xml = _text(
        tmp_path / "Annotations" / "2008_1.xml",
        _voc_xml("2008_1.jpg", [("face", (1, 1, 10, 10)), ("hard", (2, 2, 9, 9))]),
    )
    for ds in (load_voc(tmp_path), load_voc(xml)):
        assert ds.entries[0].path == str(tmp_path / "JPEGImages" / "2008_1.jpg")
        assert ds.entries[0].attributes["difficult"].tolist() == [0, 1]


def test_voc_errors(voc: Path) -> None:
    xml = voc / "annotations" / "train" / "cat.1.xml"
    _text(xml, _voc_xml("cat.1.jpg", [("cat_face", (11, 21, 40, 60))]).replace("<xmin>11", "<xmin>eleven"))
    with _raises(ValueError, xml, 9):
        load_voc(xml)
    _text(xml, _voc_xml("nowhere.jpg", [("cat_face", (11, 21, 40, 60))]))
    with _raises(FileNotFoundError, xml, 3):
        load_voc(xml)
    _text(xml, _voc_xml("cat.1.jpg", [("cat_face", (150, 21, 160, 60))]))
    with pytest.raises(ValueError, match=re.escape(f"{xml}:9") + ".*outside"):
        load_voc(xml)
    with pytest.raises(ValueError, match="kind='cat'"):
        load_voc(voc, kind="cat")
    with pytest.raises(ValueError, match="empty"):
        load_voc(voc, classes=("dog_face",))


def test_open_dataset_spec_parses_options(voc: Path) -> None:
    ds = open_dataset(f"voc:{voc}?classes=cat_face,unused&kind=animal")
    assert len(ds) == 2 and ds.entries[0].kinds[0] == "animal"
    with pytest.raises(ValueError, match="unknown option 'colour'"):
        open_dataset(f"voc:{voc}?colour=red")


# ------------------------------------------------------------------------------------------------------ COCO


def _coco(tmp_path: Path, **changes) -> Path:
    data = {
        "images": [
            {"id": 7, "file_name": "a.jpg", "width": 100, "height": 80},
            {"id": 8, "file_name": "b.jpg", "width": 100, "height": 80},
            {"id": 9, "file_name": "c.jpg", "width": 100, "height": 80},
        ],
        "annotations": [
            {"id": 1, "image_id": 7, "bbox": [10.5, 20, 30, 40], "category_id": 1, "iscrowd": 0},
            {"id": 2, "image_id": 7, "bbox": [0, 0, 5, 5], "category_id": 1, "iscrowd": 1},
            {"id": 3, "image_id": 8, "bbox": [1, 2, 3, 4], "category_id": 2, "keypoints": [1, 2, 2, 3, 4, 1]},
        ],
        "categories": [{"id": 1, "name": "face"}, {"id": 2, "name": "hand"}],
    }
    data.update(changes)
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        _image(tmp_path / "imgs" / name)
    return _text(tmp_path / "ann" / "coco.json", json.dumps(data, indent=1))


def test_coco_boxes_category_and_attributes(tmp_path: Path) -> None:
    ann = _coco(tmp_path)
    ds = load_coco(ann, images=str(tmp_path / "imgs"))
    assert len(ds) == 2  # c.jpg has no annotation
    assert _boxes(ds) == [[[10.5, 20, 40.5, 60], [0, 0, 5, 5]], [[1, 2, 4, 6]]]
    assert ds.entries[0].attributes["iscrowd"].tolist() == [0, 1]
    assert ds.entries[1].attributes["keypoints"].tolist() == [[[1, 2, 2], [3, 4, 1]]]
    faces = load_coco(ann, images="../imgs", category="face", kind="human")  # relative to the JSON's folder
    assert len(faces) == 1 and faces.entries[0].kinds == ("human", "human")
    with pytest.raises(ValueError, match="unknown category 'cat'"):
        load_coco(ann, images="../imgs", category="cat")


def test_coco_errors_name_keys(tmp_path: Path) -> None:
    ann = _coco(tmp_path, annotations=[{"id": 5, "image_id": 7, "bbox": [1, 2, 3]}])
    with _raises(ValueError, ann, "annotations[0] (id=5)"):
        load_coco(ann, images="../imgs")
    ann = _coco(tmp_path, annotations=[{"id": 5, "image_id": 99, "bbox": [1, 2, 3, 4]}])
    with _raises(ValueError, ann, "annotations[0]"):
        load_coco(ann, images="../imgs")
    ann = _coco(tmp_path, annotations=[{"id": 5, "image_id": 7, "bbox": [1, 2, 0, 4]}])
    with pytest.raises(ValueError, match="zero or negative area"):
        load_coco(ann, images="../imgs")
    ann = _coco(tmp_path)
    with _raises(FileNotFoundError, ann, "images[0]"):
        load_coco(ann)  # the default image folder (the JSON's) has no a.jpg
    ann.write_text('{"images": [\n  {"id": 1,}\n]}')
    with _raises(ValueError, ann, 2):
        load_coco(ann)


# ------------------------------------------------------------------------------------------------------- CSV


def test_csv_groups_rows_per_image_and_keeps_columns(tmp_path: Path) -> None:
    _image(tmp_path / "a.jpg")
    _image(tmp_path / "sub" / "b.png")
    table = _text(
        tmp_path / "faces.csv",
        "image,x1,y1,x2,y2,kind,identity,score,tag\n"
        "a.jpg,1,2,30,40,human,3,0.5,x\n"
        "sub/b.png,5,5,10,10,animal,,1,y\n"
        "a.jpg,50,20,60,30,,4,2,z\n",
    )
    ds = load_csv(table, kind="human")
    assert _boxes(ds) == [[[1, 2, 30, 40], [50, 20, 60, 30]], [[5, 5, 10, 10]]]
    a, b = ds.entries
    assert a.kinds == ("human", "human") and b.kinds == ("animal",)
    assert a.identities == (3, 4) and b.identities == (None,)
    assert a.attributes["score"].dtype == np.float32 and a.attributes["score"].tolist() == [0.5, 2.0]
    assert a.attributes["tag"].tolist() == ["x", "z"]
    assert load_csv(tmp_path).entries[0].path == a.path  # the folder holding one table


def test_csv_xywh_header_and_tab_delimiter(tmp_path: Path) -> None:
    _image(tmp_path / "a.jpg")
    table = _text(tmp_path / "faces.tsv", "file_name\tx\ty\twidth\theight\na.jpg\t10\t20\t30\t40\n")
    assert _boxes(load_csv(table)) == [[[10, 20, 40, 60]]]
    table = _text(tmp_path / "faces2.txt", "# comment\nimg xmin ymin w h\nn/a 0 0 1 1\n".replace("n/a", "a.jpg"))
    with pytest.raises(ValueError, match="no box columns"):  # xmin ymin w h is not an accepted set
        load_csv(table)


def test_csv_columns_option_without_header_and_image_size(tmp_path: Path) -> None:
    _image(tmp_path / "a.jpg")
    table = _text(
        tmp_path / "boxes.tsv",
        "# derived boxes\na.jpg\t100\t80\t1\t90.5\t2\t120\t30\thull\t\n",
    )
    columns = "image,width,height,n,x0,y0,x1,y1,how,note"
    ds = load_csv(table, columns=columns)
    assert _boxes(ds) == [[[90.5, 2, 100, 30]]]  # width/height are the image size here: x1 clipped to 100
    assert ds.entries[0].attributes["how"].tolist() == ["hull"]
    _text(table, "a.jpg\t100\t80\t1\t100\t2\t120\t30\thull\t\n")
    with pytest.raises(ValueError, match=re.escape(f"{table}:1") + ".*outside the 100x80 image"):
        load_csv(table, columns=columns)


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
    _image(tmp_path / "a.jpg")
    table = _text(tmp_path / "faces.csv", "image,x1,y1,x2,y2\n" + rows)
    with pytest.raises(exc, match=re.escape(f"{table}:{line}") + ".*" + message):
        load_csv(table)


# ------------------------------------------------------------------------------- image decoding via a loader


def test_images_are_decoded_lazily_and_normalised(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (40, 50), dtype=np.uint8)
    rgba = rng.integers(0, 256, (40, 50, 4), dtype=np.uint8)
    deep = rng.integers(0, 65536, (40, 50, 3), dtype=np.uint16)
    assert cv2.imwrite(str(tmp_path / "gray.png"), gray)
    assert cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    assert cv2.imwrite(str(tmp_path / "deep.png"), deep)
    jpeg = cv2.imencode(".jpg", rgba[:, :, :3])[1].tobytes()
    (tmp_path / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (tmp_path / "corrupt.jpg").write_bytes(b"this is not an image" * 10)
    names = ["gray.png", "rgba.png", "deep.png", "truncated.jpg", "corrupt.jpg"]
    table = _text(tmp_path / "faces.csv", "image,x,y,w,h\n" + "".join(f"{n},1,1,10,10\n" for n in names))
    ds = load_csv(table)  # loading only checks the files exist
    assert len(ds) == 5
    g, c, d = ds[0].image, ds[1].image, ds[2].image
    assert g.shape == (40, 50, 3) and (g == gray[:, :, None]).all()  # replicated to three channels
    assert (c == rgba[:, :, 2::-1]).all()  # alpha dropped, BGR(A) on disk -> RGB
    assert d.dtype == np.uint8 and (d == (deep[:, :, ::-1] >> 8)).all()  # top 8 bits
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "truncated.jpg")) + ".*truncated"):
        ds[3]
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "corrupt.jpg")) + ".*not a decodable image"):
        ds[4]


def test_boxes_out_of_an_unknown_image_size_fail_on_access(tmp_path: Path) -> None:
    _image(tmp_path / "a.jpg", 20, 20)
    table = _text(tmp_path / "faces.csv", "image,x1,y1,x2,y2\na.jpg,30,30,40,40\n")
    ds = load_csv(table)  # the CSV states no image size, so only decoding can tell
    with pytest.raises(ValueError, match="outside the 20x20 image"):
        ds[0]


def test_missing_annotation_path(tmp_path: Path) -> None:
    for loader in (load_wider, load_fddb, load_celeba, load_dlib_xml, load_voc, load_coco, load_csv):
        with pytest.raises(FileNotFoundError, match="no such annotation file"):
            loader(tmp_path / "nothing")
