"""Pascal VOC / LabelImg loader: the 1-based conversion, class filter, layouts, errors, spec options."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from annotation_files import boxes_of, raises_at, write_image, write_text

from facebox.config import ConfigError
from facebox.envs.data import open_dataset
from facebox.envs.data.formats.voc import load_voc


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
        write_image(tmp_path / "images" / f"{name}.jpg")
    write_text(
        tmp_path / "annotations" / "train" / "cat.1.xml",
        _voc_xml("cat.1.jpg", [("cat_face", (11, 21, 40, 60)), ("cat_eyes", (15, 30, 20, 35))]),
    )
    write_text(tmp_path / "annotations" / "test" / "cat.2.xml", _voc_xml("cat.2.jpg", [("cat_eyes", (1, 1, 5, 5))]))
    write_text(
        tmp_path / "annotations" / "test" / "cat.3.xml",
        _voc_xml("cat.3", [("cat_face", (1, 1, 100, 80)), ("cat_face", (50, 50, 120, 90))]),
    )
    write_text(tmp_path / "annotations" / "notes.xml", "<notes/>")  # not a VOC annotation: ignored
    return tmp_path


def test_voc_converts_one_based_and_filters_classes(voc: Path) -> None:
    ds = load_voc(voc, classes=("cat_face",), kind="animal")
    assert [Path(e.path).name for e in ds.entries] == ["cat.3.jpg", "cat.1.jpg"]  # cat.2 has no cat_face
    assert boxes_of(ds) == [[[0, 0, 100, 80], [49, 49, 100, 80]], [[10, 20, 40, 60]]]  # 2nd box clipped
    assert ds.entries[1].kinds == ("animal",)
    assert ds.entries[1].attributes["label"].tolist() == ["cat_face"]
    everything = load_voc(voc)
    assert sum(len(e.boxes) for e in everything.entries) == 5
    assert all(k is None for e in everything.entries for k in e.kinds)


def test_voc_devkit_layout_single_file_and_flags(tmp_path: Path) -> None:
    write_image(tmp_path / "JPEGImages" / "2008_1.jpg")
    xml = write_text(
        tmp_path / "Annotations" / "2008_1.xml",
        _voc_xml("2008_1.jpg", [("face", (1, 1, 10, 10)), ("hard", (2, 2, 9, 9))]),
    )
    for ds in (load_voc(tmp_path), load_voc(xml)):
        assert ds.entries[0].path == str(tmp_path / "JPEGImages" / "2008_1.jpg")
        assert ds.entries[0].attributes["difficult"].tolist() == [0, 1]


def test_voc_errors(voc: Path) -> None:
    xml = voc / "annotations" / "train" / "cat.1.xml"
    write_text(xml, _voc_xml("cat.1.jpg", [("cat_face", (11, 21, 40, 60))]).replace("<xmin>11", "<xmin>eleven"))
    with raises_at(ValueError, xml, 9):
        load_voc(xml)
    write_text(xml, _voc_xml("nowhere.jpg", [("cat_face", (11, 21, 40, 60))]))
    with raises_at(FileNotFoundError, xml, 3):
        load_voc(xml)
    write_text(xml, _voc_xml("cat.1.jpg", [("cat_face", (150, 21, 160, 60))]))
    with pytest.raises(ValueError, match=re.escape(f"{xml}:9") + ".*outside"):
        load_voc(xml)
    write_text(xml, _voc_xml("cat.1.jpg", [("cat_face", (11, 21, 40, 60))], size=(200, 160)))  # a resized copy?
    message = re.escape(f"{xml}:3: the annotation gives a 200x160 image, but {voc / 'images' / 'cat.1.jpg'} is 100x80")
    with pytest.raises(ValueError, match=message):
        load_voc(xml)
    with pytest.raises(ConfigError, match="kind='cat'"):
        load_voc(voc, kind="cat")
    with pytest.raises(ValueError, match="empty"):
        load_voc(voc, classes=("dog_face",))


def test_open_dataset_spec_parses_options(voc: Path) -> None:
    ds = open_dataset(f"voc:{voc}?classes=cat_face,unused&kind=animal")
    assert len(ds) == 2 and ds.entries[0].kinds[0] == "animal"
    with pytest.raises(ConfigError, match="unknown option 'colour'"):
        open_dataset(f"voc:{voc}?colour=red")
