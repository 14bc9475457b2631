"""Every still-image set of the shared data folder loads through the format loaders with boxes on the content.

The folder sits beside the repository (``<repo>/../shared/data``) or where ``FACEBOX_SHARED_DATA`` points (the
``shared_data`` fixture of ``tests/conftest.py``); the tests skip when it is absent. Counts are the ones each set's
SOURCE.txt states; the invariants check that the box conventions are right (boxes inside their images, derived
tables agreeing with the original annotations).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from facebox.envs.data import open_dataset
from facebox.envs.data.formats import load_coco, load_csv, load_dlib_xml, load_voc, load_wider


def _folder(shared_data: Path, name: str) -> Path:
    folder = shared_data / name
    if not folder.is_dir():
        pytest.skip(f"shared data folder {folder} is absent")
    return folder


def _inside(ds, width: float | None = None, height: float | None = None) -> None:
    """Every box has positive area and lies within its image (decoded, so the image size is the real one)."""
    for i in range(len(ds)):
        face = ds[i]
        assert np.array_equal(face.boxes, ds.entries[i].boxes), f"{face.source}: a box had to be clipped"
        assert (face.boxes[:, 2:] > face.boxes[:, :2]).all()
        assert (
            (face.boxes >= 0).all()
            and (face.boxes[:, 2] <= face.width).all()
            and (face.boxes[:, 3] <= face.height).all()
        )
        if width is not None:
            assert (face.width, face.height) == (width, height)


# ----------------------------------------------------------------------------------------------------- WIDER


def test_wider_subset_rescaled_file(shared_data: Path) -> None:
    folder = _folder(shared_data, "wider_face_val_subset")
    ds = load_wider(folder / "boxes_416x416.txt", images="images")
    assert len(ds) == 100
    unchecked = load_wider(folder / "boxes_416x416.txt", images="images", validate="none")
    assert all(np.array_equal(a.boxes, b.boxes) for a, b in zip(ds.entries, unchecked.entries, strict=True))  # no clip
    assert sum(len(e.boxes) for e in ds.entries) == 2656  # no zero-size box in this subset: nothing dropped
    _inside(ds, 416, 416)
    invalid = np.concatenate([e.attributes["invalid"] for e in ds.entries])
    assert int(invalid.sum()) == 19
    hard = np.concatenate([e.attributes["hard"] for e in ds.entries])
    easy = np.concatenate([e.attributes["easy"] for e in ds.entries])
    assert ((easy == 1) <= (hard == 1)).all()  # official subsets are nested: easy within medium within hard
    assert len(load_wider(folder / "boxes_416x416.txt", images="images", ignore_invalid=True)) == 100


def test_wider_subset_official_gt_with_sizes_file_matches_rescaled_file(shared_data: Path) -> None:
    folder = _folder(shared_data, "wider_face_val_subset")
    rescaled = load_wider(folder / "boxes_416x416.txt", images="images")
    official = load_wider(folder / "wider_face_val_bbx_gt.txt", images="images", sizes="image_sizes.txt")
    assert [e.path for e in official.entries] == [e.path for e in rescaled.entries]
    for a, b in zip(official.entries, rescaled.entries, strict=True):
        assert np.abs(a.boxes - b.boxes).max() <= 0.011  # boxes_416x416.txt is rounded to 2 decimals
        assert np.array_equal(a.attributes["occlusion"], b.attributes["occlusion"])


def test_wider_subset_without_rescaling_is_caught_at_open(shared_data: Path) -> None:
    """The images are stretched to 416x416 while the official txt is in original pixels: forgetting ``sizes``
    puts boxes outside the image, which the header check reports when the dataset is opened (without a check, only
    reading the image can tell)."""
    folder = _folder(shared_data, "wider_face_val_subset")
    gt = folder / "wider_face_val_bbx_gt.txt"
    with pytest.raises(ValueError, match=re.escape(f"{gt}:1: box 0 ") + ".*outside the 416x416 image"):
        load_wider(gt, images="images")
    raw = load_wider(gt, images="images", validate="none")
    assert max(float(e.boxes[:, 0].max()) for e in raw.entries) > 416
    with pytest.raises(ValueError, match="outside the 416x416 image"):
        for i in range(len(raw)):
            raw[i]


# ------------------------------------------------------------------------------------------------------ dlib


def test_dlib_pascal_faces(shared_data: Path) -> None:
    folder = _folder(shared_data, "dlib_pascal_faces")
    ds = load_dlib_xml(folder / "training.xml")
    assert len(ds) == 4 and sum(len(e.boxes) for e in ds.entries) == 18
    _inside(ds)
    # The landmark file repeats the boxes, except two faces of 2008_002079.jpg whose boxes were redrawn (1 px
    # and ~6 px shifts): same faces, so every pair still overlaps well.
    marked = load_dlib_xml(folder / "training_with_face_landmarks.xml")
    a = np.concatenate([e.boxes for e in ds.entries])
    b = np.concatenate([e.boxes for e in marked.entries])
    assert a.shape == b.shape and int((a == b).all(axis=1).sum()) == 16
    inter = np.prod(np.clip(np.minimum(a[:, 2:], b[:, 2:]) - np.maximum(a[:, :2], b[:, :2]), 0, None), axis=1)
    union = np.prod(a[:, 2:] - a[:, :2], axis=1) + np.prod(b[:, 2:] - b[:, :2], axis=1) - inter
    assert (inter / union).min() > 0.65
    for e in marked.entries:
        landmarks = e.attributes["landmarks"]
        assert landmarks.shape == (len(e.boxes), 68, 2)
        centre = np.nanmean(landmarks, axis=1)  # the landmark centroid lies in the face box
        assert ((centre > e.boxes[:, :2]) & (centre < e.boxes[:, 2:])).all()


# ------------------------------------------------------------------------------------------------- cat faces


def test_cat_faces_voc(shared_data: Path) -> None:
    folder = _folder(shared_data, "cat_faces_orienfish")
    ds = load_voc(folder, classes=("cat_face",), kind="animal")
    assert len(ds) == 122
    counts = {Path(e.path).stem: len(e.boxes) for e in ds.entries}
    multi = {name: n for name, n in counts.items() if n != 1}
    assert multi == {"cat.27": 2, "cat.165": 2, "cat.175": 2, "cat.564": 2, "cat.2531": 2, "cat.2571": 2, "cat.2517": 3}
    assert Counter(counts.values())[1] == 115 and sum(counts.values()) == 130
    assert all(k == "animal" for e in ds.entries for k in e.kinds)
    _inside(ds)  # also proves each XML <size> equals the real image size (boxes were checked against it)

    # The derived index copies the XML numbers: our boxes are those minus 1 on the left/top (1-based VOC).
    derived = {}
    for line in (folder / "DERIVED_cat_face_boxes.tsv").read_text().splitlines():
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        derived[Path(fields[0]).stem] = sorted(tuple(map(float, f.split())) for f in fields[6:])
    for e in ds.entries:
        ours = sorted((x1 + 1, y1 + 1, x2, y2) for x1, y1, x2, y2 in e.boxes.tolist())
        assert ours == derived[Path(e.path).stem]

    # Content invariant: every labelled eye lies inside a labelled face of the same image -- except the two eyes
    # of the second cat in cat.51, whose face (half hidden behind the first cat) was not labelled.
    eyes = open_dataset(f"voc:{folder}?classes=cat_eyes")
    faces = {e.path: e.boxes for e in ds.entries}
    outside = Counter()
    for e in eyes.entries:
        for centre in (e.boxes[:, :2] + e.boxes[:, 2:]) / 2:
            boxes = faces[e.path]
            outside[Path(e.path).stem] += not ((centre > boxes[:, :2]) & (centre < boxes[:, 2:])).all(axis=1).any()
    assert +outside == {"cat.51": 2}


# ------------------------------------------------------------------------------------- face landmark samples

COLUMNS = "image,width,height,n,x0,y0,x1,y1,how,note"


def test_face_landmark_samples_csv(shared_data: Path) -> None:
    folder = _folder(shared_data, "face_landmark_samples")
    ds = load_csv(folder / "DERIVED_face_boxes.tsv", columns=COLUMNS, kind="human")
    assert len(ds) == 16 and sum(len(e.boxes) for e in ds.entries) == 16
    _inside(ds)
    assert {Path(e.path).parent.name for e in ds.entries} >= {"aflw2000_3d", "300w", "cofw", "lapa", "menpo"}
    notes = [str(e.attributes["note"][0]) for e in ds.entries]
    assert sum("not annotated" in n or "unannotated" in n for n in notes) == 2


def test_face_landmark_samples_coco_json_agrees_with_table(shared_data: Path) -> None:
    folder = _folder(shared_data, "face_landmark_samples")
    table = {e.path: e.boxes for e in load_csv(folder / "DERIVED_face_boxes.tsv", columns=COLUMNS).entries}
    checked = 0
    for json_file in sorted((folder / "mmpose_tests").glob("*/test_*.json")):
        ds = load_coco(json_file)
        _inside(ds)
        for e in ds.entries:
            assert np.allclose(e.boxes, table[e.path], atol=0.006)  # the table rounds to 2 decimals
            assert e.attributes["keypoints"].shape[:2][0] == 1
            checked += 1
    assert checked == 6


# ------------------------------------------------------------------------------------------------ training sets


@pytest.mark.parametrize(
    ("spec", "images", "boxes"),
    [
        ("csv:face_mask_kaggle/DERIVED_boxes.tsv?images=images", 677, 3144),
        ("csv:oxford_pet_heads/DERIVED_head_boxes.tsv?images=images", 239, 240),
        ("voc:oxford_pet_heads/annotations?kind=animal", 239, 240),  # every <size> is the real image size
    ],
)
def test_training_sets_open_with_every_image_header_checked(shared_data: Path, spec: str, images: int, boxes: int):
    """The default check at open accepts the real training sets: boxes fit the header sizes, stated sizes agree."""
    name, _, rest = spec.partition(":")
    _folder(shared_data / "train", rest.split("/")[0])
    ds = open_dataset(f"{name}:{shared_data / 'train'}/{rest}")
    assert len(ds) == images and sum(len(e.boxes) for e in ds.entries) == boxes


def test_orl_identities_load_as_folders(shared_data: Path) -> None:
    ds = open_dataset(f"folders:{_folder(shared_data, 'train/att_orl_faces')}")
    assert len(ds) == 300 and Counter(e.identities[0] for e in ds.entries) == {i: 10 for i in range(30)}
    assert ds[0].boxes.tolist() == [[0, 0, 92, 112]] and ds[0].image.shape == (112, 92, 3)


def test_celeba_identity_sets_leave_the_validation_identities_out(shared_data: Path) -> None:
    ids = _folder(shared_data, "train/celeba_identities")
    with pytest.warns(UserWarning, match="3 images without a detected face"):  # SOURCE.txt: 015010, 015190, 047644
        everyone = open_dataset(f"celeba_ids:{ids / 'DERIVED_identities.txt'}")
    with pytest.warns(UserWarning):
        training = open_dataset(f"celeba_ids:{ids / 'DERIVED_identities.txt'}?exclude_pairs=DERIVED_pairs_val.txt")
    people = Counter(e.identities[0] for e in training.entries)
    assert len(everyone) == 897 and len(training) == 717 and len(people) == 72  # 18 validation identities out
    _inside(training)
    with pytest.warns(UserWarning, match="7 images without a detected face"):
        extra = open_dataset(f"celeba_ids:{_folder(shared_data, 'train/celeba_extra') / 'DERIVED_identities.txt'}")
    assert len(extra) == 1474 and len({e.identities[0] for e in extra.entries}) == 158
    assert not set(people) & {e.identities[0] for e in extra.entries}
