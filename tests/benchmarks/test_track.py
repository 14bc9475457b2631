"""The tracking harness on a tiny OTB-format folder: OpenCV and env-driven trackers, tables, plots, errors."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from facebox.benchmarks import track
from facebox.envs.data.video import SequenceList, VideoSequence

FRAMES = 12


def write_otb_sequence(root, name: str, velocity: tuple[int, int], separator: str) -> np.ndarray:
    """A textured 24 px square gliding over a smooth background, saved as OTB does (1-based ``x,y,w,h``)."""
    rng = np.random.default_rng(len(name))
    background = cv2.GaussianBlur(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), (0, 0), 4)
    texture = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    (root / name / "img").mkdir(parents=True)
    lines, boxes = [], []
    for i in range(FRAMES):
        x, y = 30 + velocity[0] * i, 40 + velocity[1] * i
        frame = background.copy()
        frame[y : y + 24, x : x + 24] = texture
        cv2.imwrite(str(root / name / "img" / f"{i + 1:04d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        lines.append(separator.join(str(v) for v in (x + 1, y + 1, 24, 24)))
        boxes.append([x, y, x + 24, y + 24])
    (root / name / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    return np.array(boxes, dtype=np.float64)


@pytest.fixture
def otb_folder(tmp_path):
    root = tmp_path / "otb"
    write_otb_sequence(root, "Glide", (3, 1), ",")
    write_otb_sequence(root, "Drift", (-2, 2), "\t")
    return root


def test_runner_scores_kcf_and_oracle_and_writes_tables_and_plots(otb_folder, tmp_path):
    out = tmp_path / "out"
    rows = track.main(["--data", f"otb:{otb_folder}", "--tracker", "kcf", "--tracker", "oracle", "--out", str(out)])
    by_name = {r["tracker"]: r for r in rows}
    assert list(by_name) == ["kcf", "oracle"]
    for row in rows:
        assert row["sequences"] == 2 and row["frames"] == 2 * FRAMES
        assert 0 <= row["auc"] <= 20 / 21 and 0 <= row["p@20"] <= 1 and row["fps"] > 0
    assert by_name["oracle"]["auc"] > 0.7 and by_name["oracle"]["p@20"] == 1.0
    assert by_name["kcf"]["p@20"] > 0.9  # a textured square on a smooth background is easy
    with open(out / "sequences.csv") as f:
        table = list(csv.DictReader(f))
    assert sorted((r["tracker"], r["sequence"]) for r in table) == [
        ("kcf", "Drift"),
        ("kcf", "Glide"),
        ("oracle", "Drift"),
        ("oracle", "Glide"),
    ]
    assert np.mean([float(r["auc"]) for r in table if r["tracker"] == "kcf"]) == pytest.approx(by_name["kcf"]["auc"])
    assert "| oracle |" in (out / "overall.md").read_text()
    for name in ("success", "precision"):
        image = cv2.imread(str(out / f"{name}.png"))
        assert image is not None and image.shape[0] > 100


def test_max_frames_cuts_every_sequence(otb_folder, tmp_path):
    rows = track.main(
        ["--data", f"otb:{otb_folder}", "--tracker", "mosse", "--max-frames", "5", "--out", str(tmp_path)]
    )
    assert rows[0]["frames"] == 10


class Still(VideoSequence):
    def __init__(self, frames: int) -> None:
        self.name = "still"
        self.boxes = np.array([[10, 10, 30, 30]] * frames, dtype=np.float32)

    def _read(self, index: int) -> np.ndarray:
        return np.full((64, 64, 3), index, dtype=np.uint8)


class Failing:
    """An OpenCV-like tracker whose every update fails."""

    def init(self, frame, rect):
        assert frame.shape == (64, 64, 3) and rect == (10, 10, 20, 20)

    def update(self, frame):
        return False, (0, 0, 1, 1)


def test_a_failed_opencv_update_keeps_the_last_box():
    boxes = track.opencv_tracker(Failing)(Still(4), 1)
    assert np.isnan(boxes[0]).all()
    np.testing.assert_array_equal(boxes[1:], [[10, 10, 30, 30]] * 3)


def test_trackers_start_on_the_first_annotated_frame():
    sequence = Still(6)
    sequence.boxes[:2] = np.nan
    dataset = SequenceList([sequence], "still")
    for tracker in (track.make_tracker("oracle", dataset), track.opencv_tracker(Failing)):
        scores = track.evaluate(tracker, dataset)["still"]
        assert scores.frames == 4 and scores.auc == pytest.approx(20 / 21)  # the face never moves: perfect


def test_evaluate_excludes_frame_decoding_from_speed():
    class Slow(Still):
        def _read(self, index):
            import time

            time.sleep(0.02)
            return super()._read(index)

    scores = track.evaluate(track.opencv_tracker(Failing), SequenceList([Slow(5)], "slow"))
    assert scores["still"].fps > 500  # counting the 0.1 s of decoding would give under 50 fps


def test_an_unknown_tracker_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown tracker 'kfc'.*'kcf'.*'oracle', 'model:PATH'"):
        track.make_tracker("kfc", SequenceList([Still(3)], "still"))


@pytest.fixture(scope="module", params=["ppo", "dqn"])
def tracking_run(request, tmp_path_factory):
    """The run folder of a tiny agent trained on the tracking env (32 px glimpses), once per algorithm."""
    pytest.importorskip("stable_baselines3")
    from tiny_agents import tiny_train

    return tiny_train(tmp_path_factory.mktemp(request.param), request.param, env_id="facebox/FaceTracking-v0").run_dir


def test_agents_train_on_the_tracking_env_and_run_in_the_otb_runner(tracking_run, tmp_path):
    model = f"model:{tracking_run / 'final_model.zip'}"  # observation settings come from the run's config.yml
    out = tmp_path / "track"
    (row,) = track.main(["--data", "synthetic?length=1", "--tracker", model, "--max-frames", "6", "--out", str(out)])
    assert row["frames"] == 6 and 0.0 <= row["auc"] <= 1.0
    assert (out / "success.png").is_file()


def test_a_model_must_fit_the_env_that_config_makes_of_its_run(tracking_run):
    dataset = SequenceList([Still(4)], "still")
    model = f"model:{tracking_run / 'final_model.zip'}"
    with pytest.raises(ValueError, match=r"does not fit the tracking env configured by --config.*36, 36"):
        track.make_tracker(model, dataset, {"observation": {"size": 36}})


def test_a_model_without_a_run_is_refused_by_name(tmp_path):
    ppo = pytest.importorskip("stable_baselines3").PPO
    from facebox.envs.tracking import FaceTrackingEnv

    dataset = SequenceList([Still(4)], "still")
    env = FaceTrackingEnv(config={"dataset": dataset, "observation": {"size": 36}})
    ppo("MultiInputPolicy", env, n_steps=8, batch_size=8, seed=0, device="cpu").save(tmp_path / "ppo.zip")
    for path in (tmp_path / "ppo.zip", tmp_path / "no" / "such.zip"):
        with pytest.raises(
            FileNotFoundError, match=rf"{path}: no config.yml"
        ):  # the run names the algo and observation
            track.make_tracker(f"model:{path}", dataset, {"observation": {"size": 36}})
