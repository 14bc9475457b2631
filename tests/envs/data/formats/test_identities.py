"""Identity sets: folders per person (ORL) and CelebA's identity list with detector boxes (both table layouts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from annotation_files import boxes_of, raises_at, write_image, write_text

from facebox.envs.data import open_dataset
from facebox.envs.data.formats.identities import load_celeba_identities, load_identity_folders, pair_identities

HEADER = "image\tn_faces\trank\tx0\ty0\tx1\ty1\tconfidence\n"


def test_identity_folders_in_natural_order_with_whole_image_boxes(tmp_path: Path) -> None:
    for folder, n in (("s10", 1), ("s2", 2), ("s1", 1)):
        for k in range(n):
            write_image(tmp_path / folder / f"{k + 1}.png", width=30 + k, height=40)
    write_text(tmp_path / "README", "not an identity")
    write_text(tmp_path / "s1" / "notes.txt", "not an image")
    ds = load_identity_folders(tmp_path)
    assert [(Path(e.path).parent.name, e.identities) for e in ds.entries] == [
        ("s1", (0,)),
        ("s2", (1,)),
        ("s2", (1,)),
        ("s10", (2,)),
    ]
    assert boxes_of(ds)[2] == [[0, 0, 31, 40]] and ds[2].boxes.tolist() == [[0, 0, 31, 40]]
    assert ds[0].kinds == ("human",)
    (tmp_path / "s11").mkdir()
    with pytest.raises(ValueError, match=r"s11: identity folder without images"):
        load_identity_folders(tmp_path)
    with pytest.raises(ValueError, match="no identity folders"):
        load_identity_folders(tmp_path / "s1")


@pytest.fixture
def celeba(tmp_path: Path) -> Path:
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"):
        write_image(tmp_path / "images" / name, width=100, height=80)
    write_text(tmp_path / "identities.txt", "a.jpg 7\nb.jpg 7\nc.jpg 9\nd.jpg 12\n")
    rows = ["a.jpg\t2\t1\t1.0\t1.0\t9.0\t9.0\t0.8", "a.jpg\t2\t0\t10.0\t20.0\t50.0\t70.0\t1.0"]
    rows += [
        "b.jpg\t1\t0\t5.0\t5.0\t40.0\t40.0\t0.9",
        "c.jpg\t0\t-\t\t\t\t\t",
        "d.jpg\t1\t0\t0.0\t0.0\t10.0\t10.0\t1.0",
    ]
    write_text(tmp_path / "boxes.tsv", HEADER + "\n".join(rows) + "\n")
    write_text(tmp_path / "pairs.txt", "# validation pairs\n12\td.jpg\td.jpg\n")
    return tmp_path


def test_celeba_identities_take_the_largest_detection_and_count_images_without_one(celeba: Path) -> None:
    with pytest.warns(UserWarning, match=r"boxes.tsv: 1 images without a detected face left out \(c.jpg"):
        ds = load_celeba_identities(celeba / "identities.txt", boxes="boxes.tsv", exclude_pairs="pairs.txt")
    assert [(Path(e.path).name, e.identities) for e in ds.entries] == [("a.jpg", (7,)), ("b.jpg", (7,))]
    assert boxes_of(ds)[0] == [[10, 20, 50, 70]]  # rank 0, not the first line
    spec = f"celeba_ids:{celeba / 'identities.txt'}?boxes=boxes.tsv"
    with pytest.warns(UserWarning):
        assert len(open_dataset(spec)) == 3


def test_celeba_identity_errors_name_the_file_and_line(celeba: Path) -> None:
    write_text(celeba / "identities.txt", "a.jpg 7\nz.jpg 3\n")
    with raises_at(ValueError, celeba / "identities.txt", 2):
        load_celeba_identities(celeba / "identities.txt", boxes="boxes.tsv")
    write_text(celeba / "bad.tsv", HEADER + "a.jpg\t1\t0\t1.0\t2.0\n")
    with raises_at(ValueError, celeba / "bad.tsv", 2):
        load_celeba_identities(celeba / "identities.txt", boxes="bad.tsv")
    write_text(celeba / "pairs.txt", "7\ta.jpg\n")
    with raises_at(ValueError, celeba / "pairs.txt", 1):
        pair_identities(celeba / "pairs.txt")


def test_the_one_line_per_image_layout_checks_the_stated_size_and_face_columns(celeba: Path) -> None:
    per_image = "# comment\na.jpg\t100\t80\t2\t10.0 20.0 50.0 70.0 0.99\t1.0 1.0 9.0 9.0 0.8\nb.jpg\t100\t80\t0\n"
    write_text(celeba / "identities.txt", "a.jpg 7\nb.jpg 8\n")
    write_text(celeba / "per_image.tsv", per_image)
    with pytest.warns(UserWarning, match="1 images without"):
        ds = load_celeba_identities(celeba / "identities.txt", boxes="per_image.tsv")
    assert boxes_of(ds) == [[[10, 20, 50, 70]]]
    write_text(celeba / "per_image.tsv", per_image.replace("100\t80\t2", "120\t80\t2"))
    with pytest.raises(
        ValueError, match=r"identities.txt:1: the annotation gives a 120x80 image, but .*a.jpg is 100x80"
    ):
        load_celeba_identities(celeba / "identities.txt", boxes="per_image.tsv")
    write_text(celeba / "per_image.tsv", per_image.replace("\t2\t", "\t3\t"))
    with raises_at(ValueError, celeba / "per_image.tsv", 2):
        load_celeba_identities(celeba / "identities.txt", boxes="per_image.tsv")


def test_lfw_pairs_files_with_a_count_line(tmp_path: Path) -> None:
    write_text(tmp_path / "pairs.txt", "10\t300\nAbel 1 4\n")  # LFW names people: not our numeric identities
    with raises_at(ValueError, tmp_path / "pairs.txt", 2):
        pair_identities(tmp_path / "pairs.txt")
    write_text(tmp_path / "pairs.txt", "10\t300\n3\t1.jpg\t4.jpg\n5\t1.jpg\t8\t2.jpg\n")
    assert pair_identities(tmp_path / "pairs.txt") == {3, 5, 8}
