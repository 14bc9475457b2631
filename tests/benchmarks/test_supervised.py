"""The supervised detection head as a detector: a box inside the image from the whole-image start and its
refinements, the torch threads left as found, and its encoder as the agents' ``pretrained`` one."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gymnasium import spaces  # noqa: E402

from facebox.agents.encoders import PretrainedExtractor  # noqa: E402
from facebox.benchmarks.supervised import supervised_detector  # noqa: E402
from facebox.envs.data import FaceImage  # noqa: E402
from facebox.perception import trainer  # noqa: E402
from facebox.perception.detection import Detection  # noqa: E402
from facebox.perception.pretrain import method_config  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """The ``detect`` entry (the agent's CNN at 64 px) trained a few steps on synthetic faces."""
    root = tmp_path_factory.mktemp("detect")
    config = {**method_config("detect"), "steps": 3, "batch_size": 8, "checkpoint_every": 0}
    trainer.train(Detection, "detect", ["synthetic?seed=3&length=8"], root / "d.pt", config, logdir=root)
    return root / "d.pt"


@pytest.mark.parametrize("shape", [(90, 150, 3), (160, 100, 3)])
def test_the_detector_returns_a_box_inside_the_image(checkpoint, shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    record = FaceImage(image, np.asarray([[20, 20, 50, 60]], np.float32))
    threads = torch.get_num_threads()
    detect = supervised_detector(checkpoint, rounds=3, threads=1)
    box = detect(record)
    assert torch.get_num_threads() == threads
    assert box.shape == (4,) and box.dtype == np.float64
    height, width = shape[:2]
    assert 0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height
    assert np.array_equal(detect(record), box)  # inference draws nothing at random
    assert not np.array_equal(supervised_detector(checkpoint, rounds=0)(record), box)  # the refinements move it


def test_bad_rounds_or_threads_are_refused(checkpoint):
    with pytest.raises(ValueError, match="rounds >= 0 and threads >= 1"):
        supervised_detector(checkpoint, rounds=-1)


def test_its_encoder_is_the_agents_pretrained_encoder(checkpoint):
    space = spaces.Dict({"glimpse": spaces.Box(0, 255, (64, 64, 3), np.uint8)})
    extractor = PretrainedExtractor(space, str(checkpoint))
    glimpse = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8)
    assert extractor({"glimpse": glimpse}).shape == (2, 256)


def test_the_localization_harness_runs_it_as_a_detector_row(checkpoint, tmp_path):
    from facebox.benchmarks import localize

    argv = ["--data", "synthetic?seed=1", "--policy", f"supervised:{checkpoint}", "--policy", "haar"]
    rows = localize.main([*argv, "--episodes", "3", "--out", str(tmp_path)])
    assert [(r["policy"], r["episodes"]) for r in rows] == [("supervised", 3), ("haar", 3)]
    assert 0 <= rows[0]["mean_iou"] <= 1
