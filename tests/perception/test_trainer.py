"""The one trainer: it learns, logs to TensorBoard, checkpoints, stops on a signal and resumes bit for bit."""

from __future__ import annotations

import os
import signal

import pytest

torch = pytest.importorskip("torch")

from facebox.config import ConfigError  # noqa: E402
from facebox.interrupts import TrainingInterrupted  # noqa: E402
from facebox.perception import trainer  # noqa: E402
from facebox.perception.checkpoints import load_backbone, read_checkpoint  # noqa: E402
from facebox.perception.objectives import ArcFace, Softmax, Triplet  # noqa: E402
from facebox.perception.pretrain import main as pretrain  # noqa: E402
from facebox.perception.pretrain import pairs_validation, pretrain_once  # noqa: E402
from facebox.perception.verify import make_pairs  # noqa: E402

TINY = {
    "backbone_kwargs": {"channels": [8, 16, 16, 16], "features": 16},
    "crops": {"size": 24, "context": 0.0, "jitter": 0.05, "flip": True, "cache": True},
    "steps": 12,
    "batch_size": 16,
    "log_every": 2,
    "validate_every": 0,
    "checkpoint_every": 0,
    "projector": 32,
}


def _people(root, first: int, count: int, images: int = 8) -> str:
    """Folders of ``count`` identities: each a fixed 3x3 colour pattern, each image it shifted and noisy."""
    import cv2
    import numpy as np

    for k in range(first, first + count):
        pattern = np.random.default_rng(100 + k).integers(0, 256, (3, 3, 3)).astype(np.float32)
        face = cv2.resize(pattern, (36, 36), interpolation=cv2.INTER_NEAREST)
        (root / f"id{k}").mkdir(parents=True)
        for i in range(images):
            rng = np.random.default_rng([k, i])
            image = np.roll(face, tuple(rng.integers(-3, 4, 2)), axis=(0, 1)) + rng.normal(0, 40, face.shape)
            cv2.imwrite(str(root / f"id{k}" / f"{i}.png"), np.clip(image, 0, 255).astype(np.uint8))
    return f"folders:{root}"


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    """Training identities, and pairs of other identities for validation."""
    root = tmp_path_factory.mktemp("people")
    train = _people(root / "train", 0, 8)
    val = _people(root / "val", 8, 6)
    pairs = make_pairs(val, root / "pairs.txt", per_kind=30, seed=0)
    return train, pairs, root / "val"


def _weights(path):
    return load_backbone(path).backbone.state_dict()


def test_a_short_run_beats_the_untrained_backbone_on_unseen_identities(people, tmp_path):
    train, pairs, images = people
    validate = pairs_validation(pairs, images, None)
    start = {}

    def recording(objective):
        metrics = validate(objective)
        start.setdefault("auc", metrics["auc"])
        return metrics

    config = {**TINY, "steps": 80, "lr": 0.01}
    saved = trainer.train(ArcFace, "arcface", [train], tmp_path / "a.pt", config, logdir=tmp_path, validate=recording)
    assert saved["step"] == 80 and saved["metrics"]["auc"] > start["auc"] + 0.05, (start, saved["metrics"])
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = next((tmp_path / "perception" / "arcface" / "a").glob("events.out.tfevents.*"))
    margins = [e.value for e in EventAccumulator(str(events)).Reload().Scalars("schedule/margin")]
    assert margins[0] < margins[-1] == pytest.approx(0.5)  # the margin warm-up, as the objective schedules it


def test_the_checkpoint_rebuilds_the_backbone_and_says_what_it_was_trained_on(people, tmp_path):
    train, _, _ = people
    trainer.train(Softmax, "softmax", [train], tmp_path / "s.pt", TINY, logdir=tmp_path)
    data = read_checkpoint(tmp_path / "s.pt")
    assert data["input"]["shape"] == [3, 24, 24] and len(data["input"]["mean"]) == 3
    assert data["objective"]["identities"] == [[0, k] for k in range(8)]
    assert data["objective"]["state_dict"]["centres"].shape == (8, 16)
    assert data["config"]["method"] == "softmax" and data["config"]["data"] == [train]
    assert data["trainer"]["seconds"] > 0  # 64 faces, 4 batches an epoch: the 12th step ends epoch 2
    assert (data["trainer"]["epoch"], data["trainer"]["position"]) == (2, 4)
    events = list((tmp_path / "perception" / "softmax" / "s").glob("events.out.tfevents.*"))
    assert events and (tmp_path / "perception" / "softmax" / "s" / "projector_config.pbtxt").is_file()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log = EventAccumulator(str(events[0]), size_guidance={"images": 0}).Reload()
    assert {"train/loss", "train/cross_entropy", "train/lr", "time/steps_per_second"} <= set(log.Tags()["scalars"])
    assert [e.step for e in log.Scalars("train/loss")] == list(range(2, 13, 2))
    assert log.Tags()["images"] == ["crops"]


def test_a_signal_leaves_a_checkpoint_that_resumes_to_the_same_weights(people, tmp_path):
    train, _, _ = people
    trainer.train(Triplet, "triplet", [train], tmp_path / "whole.pt", TINY, logdir=tmp_path)

    calls = []

    def interrupt(objective):  # called at step 0 and after step 4 (validate_every), in the main thread
        calls.append(objective)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return {}

    config = {**TINY, "validate_every": 4}
    with pytest.raises(TrainingInterrupted) as stopped:
        trainer.train(Triplet, "triplet", [train], tmp_path / "cut.pt", config, logdir=tmp_path, validate=interrupt)
    assert stopped.value.signum == signal.SIGINT and read_checkpoint(tmp_path / "cut.pt")["step"] == 4
    trainer.train(Triplet, "triplet", [train], tmp_path / "cut.pt", config, resume=True, logdir=tmp_path)
    whole, cut = _weights(tmp_path / "whole.pt"), _weights(tmp_path / "cut.pt")
    assert all(torch.equal(whole[k], cut[k]) for k in whole)


def test_resuming_a_file_without_trainer_state_or_with_bad_settings_is_refused(people, tmp_path):
    train, _, _ = people
    with pytest.raises(ConfigError, match=r"pretrain\['lr'\]: expected a number > 0, got -1"):
        trainer.train(Softmax, "softmax", [train], tmp_path / "x.pt", {**TINY, "lr": -1}, logdir=tmp_path)
    with pytest.raises(ConfigError, match="unknown key pretrain\\['epochs'\\]"):
        trainer.train(Softmax, "softmax", [train], tmp_path / "x.pt", {"epochs": 3}, logdir=tmp_path)
    with pytest.raises(ValueError, match="no such perception checkpoint"):
        trainer.train(Softmax, "softmax", [train], tmp_path / "x.pt", TINY, resume=True, logdir=tmp_path)


def test_the_pretrain_command_reads_the_method_defaults_and_overrides(people, tmp_path, capsys):
    train, pairs, images = people
    sets = [f"{k}={v}" for k, v in (("steps", 6), ("batch_size", 16), ("crops.size", 24), ("projector", 0))]
    argv = ["--method", "arcface", "--data", train, "--out", str(tmp_path / "p.pt"), "--logdir", str(tmp_path)]
    argv += ["--pairs", str(pairs), "--images", str(images), "--seed", "3"]
    saved = pretrain(argv + [x for s in sets for x in ("--set", s)] + ["--set", "objective.margin=0.3"])
    assert saved["step"] == 6 and saved["config"]["seed"] == 3 and saved["objective"]["kwargs"]["margin"] == 0.3
    assert saved["config"]["backbone_kwargs"] == {"channels": [16, 32, 64, 128], "features": 128}  # the YAML's
    assert set(saved["metrics"]) == {"accuracy", "auc", "tar_at_far"}
    assert "p.pt: arcface, 6 steps" in capsys.readouterr().out
    again = pretrain_once(argv, tmp_path / "p.pt")  # a finished run is read back, not trained again
    assert "done already" in capsys.readouterr().out and again["step"] == 6
    weights, saved_weights = again["backbone"]["state_dict"], saved["backbone"]["state_dict"]
    assert all(torch.equal(weights[k], saved_weights[k]) for k in saved_weights)
    with pytest.raises(ConfigError, match="unknown key"):
        pretrain(argv + ["--set", "objective.nope=1"])


def test_load_objective_rebuilds_the_whole_method_frozen(people, tmp_path):
    from facebox.perception.checkpoints import CheckpointError
    from facebox.perception.pretrain import load_objective

    train, _, _ = people
    trainer.train(Softmax, "softmax", [train], tmp_path / "s.pt", TINY, logdir=tmp_path)
    objective, saved = load_objective(tmp_path / "s.pt"), read_checkpoint(tmp_path / "s.pt")
    assert isinstance(objective, Softmax) and not objective.training
    assert torch.equal(objective.centres, saved["objective"]["state_dict"]["centres"])
    assert not any(p.requires_grad for p in objective.parameters())
    saved["objective"]["name"] = "nonsense"
    torch.save(saved, tmp_path / "n.pt")
    with pytest.raises(CheckpointError, match="method 'nonsense' is not one"):
        load_objective(tmp_path / "n.pt")
