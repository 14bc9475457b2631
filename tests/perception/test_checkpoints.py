"""Perception checkpoints: save and reload give the same features, frozen backbones stay frozen, every unusable
file is a ``CheckpointError`` naming it, and a failed save leaves the previous file whole."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

import facebox  # noqa: E402
from facebox.perception.backbones import build_backbone  # noqa: E402
from facebox.perception.checkpoints import (  # noqa: E402
    FORMAT,
    FORMAT_VERSION,
    CheckpointError,
    Normalized,
    load_backbone,
    read_checkpoint,
    save_checkpoint,
)

KWARGS = {"channels": [4, 8, 8, 8], "features": 8}
INPUT = {"shape": [3, 16, 16], "mean": [0.4, 0.5, 0.6], "std": [0.2, 0.25, 0.3], "context": 0.2}


def _images(n: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


def _trained() -> Normalized:
    """A backbone whose BatchNorm statistics and affine weights are no longer their defaults."""
    torch.manual_seed(0)
    model = Normalized(build_backbone("resnet", (3, 16, 16), KWARGS), INPUT)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
        model.train()
        for seed in range(3):
            model(_images(8, seed))
    return model.eval()


def _payload(model: Normalized, step: int = 3) -> dict:
    return {
        "backbone": {"name": "resnet", "kwargs": KWARGS, "state_dict": model.backbone.state_dict()},
        "input": INPUT,
        "objective": {"name": "softmax", "kwargs": {}, "state_dict": {"centres": torch.zeros(4, 8)}},
        "config": {"method": "softmax", "steps": 10},
        "step": step,
    }


@pytest.fixture
def saved(tmp_path):
    model = _trained()
    return model, save_checkpoint(tmp_path / "run" / "model.pt", _payload(model))


def _bn_state(model: nn.Module) -> list[torch.Tensor]:
    return [b.clone() for name, b in model.named_buffers() if "running" in name or "num_batches" in name]


def test_a_reloaded_backbone_gives_the_same_features(saved):
    model, path = saved
    assert path.is_file() and path.parent.name == "run"
    loaded = load_backbone(path)
    x = _images(5, seed=9)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert loaded.info == INPUT and loaded.shape == (3, 16, 16) and loaded.features_dim == 8


def test_the_normalized_backbone_applies_the_input_mean_and_std(saved):
    loaded = load_backbone(saved[1])
    x = _images(3, seed=4)
    mean = torch.tensor(INPUT["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(INPUT["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(loaded(x), loaded.backbone((x - mean) / std), atol=1e-6)
        assert not torch.allclose(loaded(x), loaded.backbone(x), atol=1e-3)
    assert "mean" not in loaded.state_dict() and "std" not in loaded.state_dict()  # rebuilt from ``input``


def test_a_frozen_backbone_has_no_gradients_and_stays_in_eval_mode(saved):
    loaded = load_backbone(saved[1], freeze=True)
    assert loaded.frozen and not any(p.requires_grad for p in loaded.parameters())
    parent = nn.Sequential(loaded, nn.Linear(8, 2))
    parent.train()
    assert parent.training and parent[1].training
    assert not any(m.training for m in loaded.modules())
    before = _bn_state(loaded)
    out = parent(_images(6, seed=5))
    assert all(torch.equal(a, b) for a, b in zip(before, _bn_state(loaded), strict=True))
    out.sum().backward()
    assert all(p.grad is None for p in loaded.parameters()) and parent[1].weight.grad is not None


def test_an_unfrozen_backbone_trains(saved):
    loaded = load_backbone(saved[1], freeze=False)
    assert not loaded.frozen and all(p.requires_grad for p in loaded.parameters())
    loaded.train()
    assert all(m.training for m in loaded.modules())
    before = _bn_state(loaded)
    weights = [p.clone() for p in loaded.parameters()]
    optimizer = torch.optim.SGD(loaded.parameters(), lr=0.1)
    loaded(_images(6, seed=6)).pow(2).sum().backward()
    optimizer.step()
    assert not all(torch.equal(a, b) for a, b in zip(before, _bn_state(loaded), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(weights, loaded.parameters(), strict=True))


def test_the_file_loads_without_pickled_code_and_is_stamped(saved):
    data = torch.load(saved[1], map_location="cpu", weights_only=True)
    assert data["format"] == FORMAT == "facebox.perception" and data["format_version"] == FORMAT_VERSION == 1
    assert data["facebox_version"] == facebox.__version__
    assert data["step"] == 3 and data["backbone"]["kwargs"] == KWARGS and data["input"] == INPUT
    assert torch.equal(data["objective"]["state_dict"]["centres"], torch.zeros(4, 8))
    assert read_checkpoint(saved[1])["config"] == {"method": "softmax", "steps": 10}


def test_a_payload_without_its_keys_is_not_saved(tmp_path):
    payload = _payload(_trained())
    del payload["step"]
    with pytest.raises(ValueError, match=r"needs \['step'\]"):
        save_checkpoint(tmp_path / "model.pt", payload)
    assert not list(tmp_path.iterdir())


def _rewrite(path, change) -> None:
    data = torch.load(path, weights_only=True)
    change(data)
    torch.save(data, path)


def _without(key):
    return lambda data: data.pop(key)


def _set(key, value):
    return lambda data: data.__setitem__(key, value)


@pytest.mark.parametrize(
    "change, match",
    [
        (_set("format_version", 2), r"checkpoint format version 2; this facebox \(.+\) reads version 1"),
        (_set("format_version", None), "checkpoint format version None"),
        (_set("format", "facebox.agent"), "not a facebox perception checkpoint"),
        (_without("format"), "not a facebox perception checkpoint"),
        (_without("step"), r"checkpoint lacks \['step'\]"),
        (lambda d: (d.pop("input"), d.pop("config")), r"checkpoint lacks \['input', 'config'\]"),
        (
            lambda d: d["backbone"].__setitem__("kwargs", {**KWARGS, "features": 16}),
            "the weights do not fit backbone 'resnet'",
        ),
        (
            lambda d: d["backbone"].__setitem__("kwargs", {"channels": [4, 8, 8], "features": 8}),
            "the weights do not fit backbone 'resnet'",
        ),
        (lambda d: d["backbone"]["state_dict"].pop("embed.0.weight"), "the weights do not fit"),
    ],
)
def test_an_unusable_checkpoint_is_an_error_naming_the_file(saved, change, match):
    path = saved[1]
    _rewrite(path, change)
    with pytest.raises(CheckpointError, match=match) as error:
        load_backbone(path)
    assert str(path) in str(error.value)


def test_a_missing_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "nowhere.pt"
    with pytest.raises(CheckpointError, match="no such perception checkpoint") as error:
        load_backbone(path)
    assert str(path) in str(error.value)
    with pytest.raises(CheckpointError, match="no such"):
        read_checkpoint(tmp_path)  # a folder is no checkpoint either


@pytest.mark.parametrize("kind", ["random", "truncated", "list", "pickled object"])
def test_a_file_that_is_no_checkpoint_is_an_error_naming_it(saved, tmp_path, kind):
    path = tmp_path / f"{kind}.pt"
    if kind == "random":
        path.write_bytes(random.Random(0).randbytes(2048))
    elif kind == "truncated":
        path.write_bytes(saved[1].read_bytes()[:1000])
    elif kind == "list":
        torch.save([FORMAT, FORMAT_VERSION], path)
    else:
        torch.save({"format": FORMAT, "format_version": 1, "object": _Opaque()}, path)
    with pytest.raises(CheckpointError, match="not a (readable|facebox) perception checkpoint") as error:
        load_backbone(path)
    assert str(path) in str(error.value)
    assert isinstance(error.value, ValueError)


class _Opaque:
    """Not one of the types ``weights_only`` loading accepts."""


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["backbone"].__setitem__("name", "convnext"),
        lambda d: d["backbone"].__setitem__("kwargs", {**KWARGS, "width": 3}),
    ],
    ids=["unknown name", "unknown option"],
)
def test_a_checkpoint_naming_a_backbone_this_facebox_cannot_build_is_a_checkpoint_error(saved, change):
    _rewrite(saved[1], change)
    with pytest.raises(CheckpointError) as error:
        load_backbone(saved[1])
    assert str(saved[1]) in str(error.value)


def _temporary_files(folder) -> list:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_payload_that_cannot_be_serialised_leaves_the_previous_file(saved):
    model, path = saved
    old = path.read_bytes()
    payload = {**_payload(model), "step": lambda: 4}  # a lambda cannot be pickled
    with pytest.raises(Exception, match="(?i)pickle|lambda"):
        save_checkpoint(path, payload)
    assert path.read_bytes() == old and _temporary_files(path.parent) == []
    assert read_checkpoint(path)["step"] == 3


def test_a_save_that_fails_mid_write_leaves_the_previous_file_and_no_temporary(saved, monkeypatch):
    model, path = saved
    old = path.read_bytes()
    written = []

    def fail(fd):
        written.extend(_temporary_files(path.parent))  # the new file exists, complete, beside the old one
        raise OSError("disk full")

    monkeypatch.setattr("facebox.runs.os.fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, _payload(model, step=4))
    assert len(written) == 1 and written[0].startswith(f".{path.name}.")
    assert path.read_bytes() == old and _temporary_files(path.parent) == []
    monkeypatch.undo()
    save_checkpoint(path, _payload(model, step=4))
    assert read_checkpoint(path)["step"] == 4 and _temporary_files(path.parent) == []
