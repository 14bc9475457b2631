"""ArcFace inversion: the priors, the optimisation on a tiny untrained ResNet, the acceptance measurement on hand-built
embeddings, and ``facebox invert`` end to end on noise images."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from facebox.benchmarks.cli import main as facebox_main
from facebox.perception.backbones import build_backbone
from facebox.perception.checkpoints import load_backbone, save_checkpoint
from facebox.perception.inversion import (
    BatchNormPrior,
    acceptance,
    invert,
    total_variation,
)
from facebox.perception.verification import embed_crops, read_pairs
from facebox.perception.verify import make_pairs

SHAPE = (3, 32, 32)


def make_checkpoint(path: Path) -> Path:
    """An untrained ResNet whose BatchNorm running statistics are those of one batch of noise images, so that its
    embeddings are centred (fresh statistics, mean 0 and variance 1, leave every embedding near one direction)."""
    kwargs = {"channels": [4, 8], "features": 16}
    torch.manual_seed(0)
    backbone = build_backbone("resnet", SHAPE, kwargs)
    for layer in backbone.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            layer.momentum = 1.0
    with torch.no_grad():
        backbone.train()(torch.rand(64, *SHAPE))
    return save_checkpoint(
        path,
        {
            "backbone": {"name": "resnet", "kwargs": kwargs, "state_dict": backbone.state_dict()},
            "input": {"shape": list(SHAPE), "mean": [0.5] * 3, "std": [0.25] * 3, "context": 0.2},
            "objective": {"name": "arcface", "kwargs": {}, "state_dict": {}},
            "config": {},
            "step": 0,
        },
    )


@pytest.fixture
def checkpoint(tmp_path):
    return make_checkpoint(tmp_path / "model.pt")


def noise_targets(backbone, n: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(7))
    return images, embed_crops(backbone, images)


# ---------------------------------------------------------------- priors


def test_batchnorm_prior_is_zero_at_the_running_statistics_and_the_distance_otherwise():
    """The statistics are those of the whole batch: its images' own means differ, yet the prior is 0 when the batch
    matches the running statistics."""
    x = torch.randn(4, 3, 5, 5, generator=torch.Generator().manual_seed(0)) * 2 + 1
    x = x + torch.arange(4.0).view(4, 1, 1, 1)  # images with different means
    layer = nn.BatchNorm2d(3).eval()
    mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)
    layer.running_mean.copy_(mean)
    layer.running_var.copy_(var)
    model = nn.Sequential(nn.Identity(), layer, nn.BatchNorm1d(3))  # 1d is not part of the prior
    with BatchNormPrior(nn.Sequential(model[0], model[1])) as prior:
        model[1](x)
        assert prior.loss.item() == pytest.approx(0.0, abs=1e-5)
        prior.reset()
        model[1](3 * x)
        expected = torch.linalg.vector_norm(2 * mean) + torch.linalg.vector_norm(8 * var)
        assert prior.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert len(BatchNormPrior(model).layers) == 1
    model[1](x)  # hooks removed on exit: nothing more is added
    assert prior.loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_total_variation_is_zero_for_a_flat_image_and_the_mean_neighbour_difference_otherwise():
    assert total_variation(torch.full((2, 3, 8, 8), 0.3)).item() == 0.0
    stripes = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]])  # horizontal differences 1, vertical 0
    assert total_variation(stripes).item() == pytest.approx(1.0)


# ---------------------------------------------------------------- the optimisation


def test_inversion_raises_the_cosine_to_the_target(checkpoint):
    backbone = load_backbone(checkpoint)
    _, targets = noise_targets(backbone)
    start = invert(backbone, targets, steps=0)
    end = invert(backbone, targets, steps=40)
    assert end.shape == (2, *SHAPE) and 0 <= end.min() and end.max() <= 1
    before = (embed_crops(backbone, start) * targets).sum(dim=1)
    after = (embed_crops(backbone, end) * targets).sum(dim=1)
    assert (after > before + 0.3).all() and (after > 0.9).all(), (before, after)


def test_inversion_leaves_the_backbone_unchanged(checkpoint):
    backbone = load_backbone(checkpoint, freeze=False)
    backbone.train()  # invert must switch to eval itself, or BatchNorm would update its running statistics
    state = {k: v.clone() for k, v in backbone.state_dict().items()}
    _, targets = noise_targets(backbone)
    invert(backbone, targets, steps=3)
    assert all(torch.equal(state[k], v) for k, v in backbone.state_dict().items())
    assert backbone.training
    assert all(p.grad is None for p in backbone.parameters())
    assert not any(m._forward_hooks for m in backbone.modules())


def test_inversion_is_seeded(checkpoint):
    backbone = load_backbone(checkpoint)
    _, targets = noise_targets(backbone)
    first = invert(backbone, targets, steps=4, seed=3)
    assert torch.equal(first, invert(backbone, targets, steps=4, seed=3))
    assert not torch.equal(first, invert(backbone, targets, steps=4, seed=4))


# ---------------------------------------------------------------- acceptance


class ChannelMeans(nn.Module):
    """A stub backbone: a flat image's embedding is its channel values minus ½ (mirroring cannot change it)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)) - 0.5


def flat(*channels: float) -> torch.Tensor:
    return torch.tensor(channels).view(3, 1, 1).expand(3, 12, 12)


def test_acceptance_gives_the_hand_computed_fractions():
    """Originals along the axes; the inversions have cosine 0.8, 0.6 and −0.8 with their own originals, and 0.6, 0,
    0, 0.8, 0.6 and 0 with the others."""
    originals = torch.stack([flat(1, 0.5, 0.5), flat(0.5, 1, 0.5), flat(0.5, 0.5, 1)])
    inversions = torch.stack([flat(0.9, 0.8, 0.5), flat(0.5, 0.8, 0.9), flat(0.8, 0.5, 0.1)])
    measured = acceptance(ChannelMeans(), originals, inversions, threshold=0.5)
    assert measured["n"] == 3
    assert measured["cosines"] == pytest.approx([0.8, 0.6, -0.8], abs=1e-6)
    assert measured["accepted"] == pytest.approx(2 / 3)
    assert measured["mean_cosine"] == pytest.approx(0.6 / 3, abs=1e-6)
    assert measured["control_accepted"] == pytest.approx(3 / 6)
    assert measured["control_mean_cosine"] == pytest.approx(2.0 / 6, abs=1e-6)
    assert measured["originals_control_accepted"] == 0.0
    mse = [(0.01 + 0.09) / 3, (0.04 + 0.16) / 3, (0.09 + 0.81) / 3]
    assert measured["psnr"] == pytest.approx(np.mean([-10 * math.log10(e) for e in mse]), rel=1e-4)
    assert -1 <= measured["ssim"] < 1
    strict = acceptance(ChannelMeans(), originals, inversions, threshold=0.7)
    assert (strict["accepted"], strict["control_accepted"]) == pytest.approx((1 / 3, 1 / 6))
    with pytest.raises(ValueError, match="at least 2 originals"):
        acceptance(ChannelMeans(), originals[:1], inversions[:1], 0.5)


# ---------------------------------------------------------------- the command


def identity_folders(root: Path, people: int = 4, per_person: int = 4) -> Path:
    for person in range(people):
        for k in range(per_person):
            pixels = np.random.default_rng(100 * person + k).integers(0, 256, (40, 48), dtype=np.uint8)
            (root / f"s{person + 1}").mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / f"s{person + 1}" / f"{k + 1}.pgm"), pixels)
    return root


def test_invert_command_end_to_end(tmp_path, checkpoint, capsys):
    root = identity_folders(tmp_path / "faces")
    pairs = make_pairs(f"folders:{root}", tmp_path / "pairs.txt", per_kind=10)
    out = tmp_path / "out"
    argv = ["--checkpoint", str(checkpoint), "--pairs", str(pairs), "--images", str(root), "--out", str(out)]
    assert facebox_main(["invert", *argv, "--n", "3", "--steps", "3", "--tv", "0.5"]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "inversion.json").read_text())
    expected = {
        "threshold",
        "tv",
        "accepted",
        "control_accepted",
        "mean_cosine",
        "psnr",
        "ssim",
        "cosines",
        "originals",
    }
    assert expected <= report.keys()
    first: dict[str, str] = {}
    for pair in read_pairs(pairs):
        first.setdefault(pair.id_a, pair.image_a)
        first.setdefault(pair.id_b, pair.image_b)
    assert report["identities"] == list(first)[:3] and report["originals"] == list(first.values())[:3]
    assert report["tv"] == 0.5 and report["n"] == 3 and len(report["cosines"]) == 3 and 0 <= report["accepted"] <= 1
    assert f"accepted         {report['accepted']:.3f}" in printed
    with Image.open(out / "grid.png") as grid:
        assert grid.format == "PNG" and grid.size == (3 * 34 + 2, 2 * 34 + 2)  # 3 columns, 2 rows of 32 px + 2
