"""COCO JSON loader: boxes, category filter, kept attributes, errors naming the JSON key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from annotation_files import boxes_of, raises_at, write_image, write_text

from facebox.config import ConfigError
from facebox.envs.data.formats.coco import load_coco


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
        write_image(tmp_path / "imgs" / name)
    return write_text(tmp_path / "ann" / "coco.json", json.dumps(data, indent=1))


def test_coco_boxes_category_and_attributes(tmp_path: Path) -> None:
    ann = _coco(tmp_path)
    ds = load_coco(ann, images=str(tmp_path / "imgs"))
    assert len(ds) == 2  # c.jpg has no annotation
    assert boxes_of(ds) == [[[10.5, 20, 40.5, 60], [0, 0, 5, 5]], [[1, 2, 4, 6]]]
    assert ds.entries[0].attributes["iscrowd"].tolist() == [0, 1]
    assert ds.entries[1].attributes["keypoints"].tolist() == [[[1, 2, 2], [3, 4, 1]]]
    faces = load_coco(ann, images="../imgs", category="face", kind="human")  # relative to the JSON's folder
    assert len(faces) == 1 and faces.entries[0].kinds == ("human", "human")
    with pytest.raises(ConfigError, match="unknown category 'cat'"):
        load_coco(ann, images="../imgs", category="cat")


def test_coco_errors_name_keys(tmp_path: Path) -> None:
    ann = _coco(tmp_path, annotations=[{"id": 5, "image_id": 7, "bbox": [1, 2, 3]}])
    with raises_at(ValueError, ann, "annotations[0] (id=5)"):
        load_coco(ann, images="../imgs")
    ann = _coco(tmp_path, annotations=[{"id": 5, "image_id": 99, "bbox": [1, 2, 3, 4]}])
    with raises_at(ValueError, ann, "annotations[0]"):
        load_coco(ann, images="../imgs")
    ann = _coco(tmp_path, annotations=[{"id": 5, "image_id": 7, "bbox": [1, 2, 0, 4]}])
    with pytest.raises(ValueError, match="zero or negative area"):
        load_coco(ann, images="../imgs")
    points = [{"id": 5, "image_id": 7, "bbox": [1, 2, 3, 4]}, {"id": 6, "image_id": 8, "bbox": [1, 2, 3, 4]}]
    points[1]["keypoints"] = [1, "x", 2]
    ann = _coco(tmp_path, annotations=points)
    with raises_at(ValueError, ann, "annotations[1] (id=6): keypoints: expected numbers"):
        load_coco(ann, images="../imgs")
    ann = _coco(tmp_path, images=[{"id": 7, "file_name": "a.jpg", "width": 80, "height": 100}], annotations=points[:1])
    with raises_at(ValueError, ann, "images[0] (a.jpg): the annotation gives a 80x100 image, but"):
        load_coco(ann, images="../imgs")  # the images are 100x80
    ann = _coco(tmp_path)
    with raises_at(FileNotFoundError, ann, "images[0]"):
        load_coco(ann)  # the default image folder (the JSON's) has no a.jpg
    ann.write_text('{"images": [\n  {"id": 1,}\n]}')
    with raises_at(ValueError, ann, 2):
        load_coco(ann)
