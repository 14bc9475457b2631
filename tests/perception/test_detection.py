"""The supervised detection head: wide windows (every scale up to the whole image, decoding to the largest face they
hold), its loss learning, the trainer's ``init``/``freeze`` transfer (backbone fixed, head learning), the agent-sized
checkpoint, and config mistakes."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import yaml  # noqa: E402

from facebox.config import ConfigError  # noqa: E402
from facebox.perception import trainer  # noqa: E402
from facebox.perception.backbones import CourseCNN, build_backbone  # noqa: E402
from facebox.perception.checkpoints import (  # noqa: E402
    CheckpointError,
    Normalized,
    load_backbone,
    read_checkpoint,
    save_checkpoint,
)
from facebox.perception.dann import JITTER, Windows, decode_offsets  # noqa: E402
from facebox.perception.detection import Detection, load_detector  # noqa: E402
from facebox.perception.pretrain import HYPERPARAMS, METHODS, method_config  # noqa: E402

SYNTH = "synthetic?seed=3&length=8"
TINY = {
    "backbone": "cnn",
    "backbone_kwargs": {"channels": [8, 8, 8], "fc": 16, "stride": 2, "keypoints": 4},
    "crops": {"size": 32, "context": 0.1},
    "steps": 4,
    "batch_size": 8,
    "log_every": 2,
    "validate_every": 0,
    "checkpoint_every": 0,
}


@pytest.fixture
def photos(noise_photos):
    """Six 120x80 noise images (wider than tall, so the whole image is a square larger than it), the odd ones with
    a second, larger face: a real source with known boxes."""
    return noise_photos(6, (80, 120), lambda i: [10 + i, 12, 22 + i, 26], [60, 30, 90, 66])


def _positives(windows, epochs=6):
    for epoch in range(epochs):
        windows.set_epoch(epoch)
        for i, (_, image, face) in enumerate(windows.items):
            if face >= 0:
                yield image, face, windows[i]


def test_wide_windows_decode_to_the_largest_face_they_hold(photos):
    windows = Windows(photos, size=32, context=0.1, negatives=0.5, hold_out=0, wide=1.0)
    for image, face, item in _positives(windows):
        faces, window = torch.from_numpy(photos[image].boxes), item["window"]
        box = decode_offsets(item["offsets"], window)
        assert window[2] - window[0] == window[3] - window[1]  # square
        held = ((faces[:, :2] >= window[:2] - 1) & (faces[:, 2:] <= window[2:] + 1)).all(1)
        assert held[face]  # it holds the face it was drawn for
        areas = (faces[:, 2:] - faces[:, :2]).prod(1)
        largest = faces[int(areas.where(held, torch.tensor(-1.0)).argmax())]
        assert (box - largest).abs().max() < 1e-3


def test_wide_windows_span_the_face_window_to_the_whole_image(photos):
    windows = Windows(photos, size=32, context=0.1, hold_out=0, wide=1.0)
    sides = torch.stack([item["window"][2] - item["window"][0] for *_, item in _positives(windows, 20)])
    assert sides.max() >= 119 and sides.min() < 0.5 * 120  # up to the long side, down near the face
    near = sides[sides < 60].numel() / sides.numel()
    assert 0.2 < near < 0.8  # log-uniform: the small scales are not starved
    inside = Windows(photos, size=32, context=0.1, hold_out=0)  # DANN's default: only the jittered face window
    small = torch.stack([item["window"][2] - item["window"][0] for *_, item in _positives(inside)])
    assert small.max() <= 36 * 1.2 * (1 + JITTER) + 1


def test_the_detection_loss_falls_on_synthetic_windows():
    windows = Detection.dataset([SYNTH], {"size": 32, "context": 0.1, "cache": True}, seed=0)
    assert windows.wide > 0
    batch = torch.utils.data.default_collate([windows[i] for i in range(len(windows))])
    torch.manual_seed(0)
    backbone = build_backbone("cnn", (3, 32, 32), TINY["backbone_kwargs"])
    detection = Detection(Normalized(backbone, {"shape": [3, 32, 32], "mean": [0.5] * 3, "std": [0.25] * 3}))
    optimizer = torch.optim.Adam(detection.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss, parts = detection(batch)
        assert set(parts) == {"face", "box", "face_accuracy"} and torch.isclose(loss, parts["face"] + parts["box"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses


def test_the_real_labels_reach_the_loss():
    """Unlike DANN, every source is labelled: the loss moves with a real window's offsets too."""
    torch.manual_seed(0)
    backbone = build_backbone("cnn", (3, 32, 32), TINY["backbone_kwargs"])
    detection = Detection(Normalized(backbone, {"shape": [3, 32, 32], "mean": [0.5] * 3, "std": [0.25] * 3}))
    batch = {"image": torch.rand(2, 3, 32, 32), "face": torch.ones(2), "offsets": torch.zeros(2, 4)}
    batch["labelled"] = torch.tensor([False, False])
    _, before = detection(batch)
    _, after = detection({**batch, "offsets": torch.full((2, 4), 3.0)})
    assert after["box"] > before["box"] + 1


def _record_weights(store):
    def validate(objective):  # called before the first step and after the last
        store.append({k: v.clone() for k, v in objective.state_dict().items()})
        return {}

    return validate


def test_a_frozen_backbone_stays_as_loaded_while_the_head_learns(tmp_path):
    trainer.train(Detection, "detect", [SYNTH], tmp_path / "base.pt", TINY, logdir=tmp_path)
    base = read_checkpoint(tmp_path / "base.pt")
    states = []
    config = {**TINY, "backbone_kwargs": {}, "init": str(tmp_path / "base.pt"), "freeze": True, "steps": 6}
    saved = trainer.train(
        Detection, "detect", [SYNTH], tmp_path / "t.pt", config, logdir=tmp_path, validate=_record_weights(states)
    )
    first, last = states
    assert all(torch.equal(v, base["backbone"]["state_dict"][k]) for k, v in saved["backbone"]["state_dict"].items())
    assert all(torch.equal(first[k], last[k]) for k in first if k.startswith("backbone."))
    assert all(not torch.equal(first[k], last[k]) for k in first if k.startswith("head."))
    # the run took over the init's architecture and normalisation, so its own checkpoint rebuilds it
    assert saved["config"]["backbone_kwargs"] == TINY["backbone_kwargs"]
    assert saved["input"]["mean"] == base["input"]["mean"]
    assert isinstance(load_backbone(tmp_path / "t.pt").backbone, CourseCNN)

    states.clear()
    config["freeze"] = False  # fine-tuning from the init: the backbone learns too
    record = _record_weights(states)
    trainer.train(Detection, "detect", [SYNTH], tmp_path / "f.pt", config, logdir=tmp_path, validate=record)
    assert any(not torch.equal(states[0][k], states[1][k]) for k in states[0] if k.startswith("backbone."))


def test_the_detect_entry_is_the_agents_encoder_and_its_checkpoint_loads_as_one(tmp_path):
    ppo = yaml.safe_load((HYPERPARAMS.parent / "ppo.yml").read_text())["default"]
    config = method_config("detect")
    assert METHODS["detect"] is Detection
    assert config["backbone"] == ppo["policy_kwargs"]["encoder"]
    assert config["backbone_kwargs"] == ppo["policy_kwargs"]["encoder_kwargs"]
    assert config["crops"]["size"] == ppo["env_kwargs"]["config"]["observation"]["size"] == 64
    tiny = {**config, "steps": 2, "batch_size": 4, "validate_every": 0, "checkpoint_every": 0}
    trainer.train(Detection, "detect", ["synthetic?seed=3&length=4"], tmp_path / "d.pt", tiny, logdir=tmp_path)
    backbone = load_backbone(tmp_path / "d.pt")
    assert backbone.shape == (3, 64, 64) and backbone(torch.rand(2, 3, 64, 64)).shape == (2, 256)
    detector = load_detector(tmp_path / "d.pt")
    logits, offsets = detector.predict(torch.rand(3, 3, 64, 64))
    assert logits.shape == (3,) and offsets.shape == (3, 4) and not detector.training


def test_load_detector_refuses_another_methods_checkpoint(tmp_path):
    saved = trainer.train(Detection, "detect", [SYNTH], tmp_path / "d.pt", TINY, logdir=tmp_path)
    save_checkpoint(tmp_path / "other.pt", {**saved, "objective": {**saved["objective"], "name": "dann"}})
    with pytest.raises(CheckpointError, match="a 'dann' checkpoint, not a 'detect' one"):
        load_detector(tmp_path / "other.pt")


@pytest.mark.parametrize(
    "config, match",
    [
        ({"freeze": True}, r"pretrain\['freeze'\]: expected false without an init"),
        ({"init": 3}, r"pretrain\['init'\]: expected a str, got 3"),
        ({"objective": {"hidden": 0}}, r"detection\['hidden'\]: expected an integer >= 1, got 0"),
        ({"objective": {"box_weight": -1}}, r"detection\['box_weight'\]"),
    ],
)
def test_bad_detection_settings_are_config_errors(tmp_path, config, match):
    with pytest.raises(ConfigError, match=match):
        trainer.train(Detection, "detect", [SYNTH], tmp_path / "x.pt", {**TINY, **config}, logdir=tmp_path)


def test_an_init_of_another_input_size_and_a_bad_wide_are_config_errors(tmp_path):
    trainer.train(Detection, "detect", [SYNTH], tmp_path / "base.pt", TINY, logdir=tmp_path)
    bigger = {**TINY, "crops": {"size": 40, "context": 0.1}, "init": str(tmp_path / "base.pt")}
    with pytest.raises(ConfigError, match=r"pretrain\['init'\]: expected a checkpoint of \[3, 40, 40\]"):
        trainer.train(Detection, "detect", [SYNTH], tmp_path / "x.pt", bigger, logdir=tmp_path)
    with pytest.raises(ConfigError, match=r"Windows\['wide'\]: expected a number in \[0, 1\], got 1.5"):
        Windows(SYNTH, wide=1.5)
