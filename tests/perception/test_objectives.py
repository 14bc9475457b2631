"""Objectives on a tiny ResNet and on fixed embeddings: loss parts, ArcFace's margin warm-up, option checks, the
pair and triplet forms by hand, and a few optimiser steps that lower every loss."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from facebox.config import ConfigError  # noqa: E402
from facebox.perception.backbones import build_backbone  # noqa: E402
from facebox.perception.checkpoints import Normalized  # noqa: E402
from facebox.perception.data import FaceCrops  # noqa: E402
from facebox.perception.losses import batch_hard_triplet_loss  # noqa: E402
from facebox.perception.objectives import (  # noqa: E402
    OBJECTIVES,
    ArcFace,
    Contrastive,
    NormFace,
    Objective,
    Softmax,
    Triplet,
)

INPUT = {"shape": [3, 16, 16], "mean": [0.5] * 3, "std": [0.25] * 3, "context": 0.2}
LABELS = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
METRICS = {"accuracy", "distance_gap"}  # logged, not added to the loss


def _backbone(seed: int = 0) -> Normalized:
    torch.manual_seed(seed)
    return Normalized(build_backbone("resnet", (3, 16, 16), {"channels": [4, 8, 8, 8], "features": 8}), INPUT)


def _batch(seed: int = 0, labels: torch.Tensor = LABELS) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"image": torch.rand(len(labels), 3, 16, 16, generator=g), "label": labels.clone()}


class _Fixed(nn.Module):
    """A stand-in backbone whose "image" already is the embedding."""

    features_dim = 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _on_fixed(cls: type[Objective], options: dict | None = None) -> Objective:
    objective = cls(_backbone(), num_classes=2, options=options)
    objective.backbone = _Fixed()
    return objective


def test_the_registry_names_every_objective():
    assert OBJECTIVES == {
        "softmax": Softmax,
        "normface": NormFace,
        "arcface": ArcFace,
        "contrastive": Contrastive,
        "triplet": Triplet,
    }
    assert {cls.sampler for cls in (Softmax, NormFace, ArcFace)} == {"shuffle"}
    assert {cls.sampler for cls in (Contrastive, Triplet)} == {"balanced"}


@pytest.mark.parametrize(
    "cls, options, summed",
    [
        (Softmax, None, {"cross_entropy"}),
        (NormFace, None, {"cross_entropy"}),
        (ArcFace, None, {"cross_entropy"}),
        (ArcFace, {"intra": 0.5, "inter": 2.0}, {"cross_entropy", "intra", "inter"}),
        (Contrastive, None, {"positive", "negative"}),
        (Contrastive, {"form": "energy"}, {"positive", "negative"}),
        (Triplet, None, {"triplet"}),
    ],
)
def test_forward_is_a_scalar_loss_that_is_the_sum_of_its_loss_parts(cls, options, summed):
    objective = cls(_backbone(), num_classes=4, options=options)
    objective.set_progress(1.0)
    loss, parts = objective(_batch())
    assert loss.dim() == 0 and torch.isfinite(loss) and loss.requires_grad
    assert set(parts) - METRICS == summed
    assert torch.allclose(loss, sum(parts[k] for k in summed), atol=1e-6)
    if "accuracy" in parts:
        assert 0 <= parts["accuracy"].item() <= 1 and not parts["accuracy"].requires_grad
    if cls is Contrastive:
        assert "distance_gap" in parts and not parts["distance_gap"].requires_grad


def test_accuracy_is_the_share_of_faces_whose_own_centre_scores_highest():
    objective = _on_fixed(NormFace)
    objective.centres.data = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    batch = {
        "image": torch.tensor([[2.0, 0.1], [0.1, 3.0], [1.0, 0.2], [0.5, 0.4]]),
        "label": torch.tensor([0, 1, 1, 1]),
    }
    _, parts = objective(batch)
    assert parts["accuracy"].item() == pytest.approx(0.5)  # rows 0 and 1 right, rows 2 and 3 nearer centre 0


def test_only_plain_softmax_has_a_bias():
    assert Softmax(_backbone(), 4).bias is not None
    assert NormFace(_backbone(), 4).bias is None and ArcFace(_backbone(), 4).bias is None
    assert Softmax(_backbone(), 4).centres.shape == (4, 8)


@pytest.mark.parametrize("cls", [Softmax, NormFace, ArcFace])
def test_a_classifier_needs_two_identities(cls):
    with pytest.raises(ValueError, match=f"{cls.__name__.lower()} needs at least 2 identities, got 1"):
        cls(_backbone(), num_classes=1)


@pytest.mark.parametrize(
    "progress, margin",
    [(0.0, 0.0), (0.05, 0.125), (0.1, 0.25), (0.2, 0.5), (0.6, 0.5), (1.0, 0.5)],
)
def test_the_arcface_margin_grows_linearly_over_the_warmup(progress, margin):
    objective = ArcFace(_backbone(), 4, {"margin": 0.5, "margin_warmup": 0.2})
    objective.set_progress(progress)
    assert objective.margin == pytest.approx(margin)


def test_without_warmup_the_arcface_margin_is_full_at_once():
    objective = ArcFace(_backbone(), 4, {"margin": 0.4, "margin_warmup": 0})
    assert objective.progress == 0 and objective.margin == pytest.approx(0.4)


def _twins(options: dict) -> tuple[NormFace, ArcFace]:
    normface = NormFace(_backbone(), 4, {"scale": 16.0})
    arcface = ArcFace(normface.backbone, 4, {"scale": 16.0, **options})
    arcface.centres.data.copy_(normface.centres.data)
    normface.eval(), arcface.eval()
    return normface, arcface


def test_arcface_without_margin_is_normface_with_the_same_centres_and_scale():
    normface, arcface = _twins({"margin": 0.0})
    arcface.set_progress(1.0)
    batch = _batch(1)
    with torch.no_grad():
        (ours, _), (theirs, _) = arcface(batch), normface(batch)
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_the_margin_raises_the_loss_once_warmed_up_and_not_before():
    normface, arcface = _twins({"margin": 0.5, "margin_warmup": 0.5})
    batch = _batch(2)
    with torch.no_grad():
        plain = normface(batch)[0]
        arcface.set_progress(0.0)
        assert torch.allclose(arcface(batch)[0], plain, atol=1e-5)
        arcface.set_progress(0.25)
        half = arcface(batch)[0]
        arcface.set_progress(0.5)
        full = arcface(batch)[0]
    assert plain < half < full


def test_intra_and_inter_weights_scale_their_parts_and_leave_cross_entropy_alone():
    batch = _batch(3)
    results = {}
    for weight in (0.0, 1.0, 3.0):
        _, arcface = _twins({"intra": weight, "inter": weight})
        arcface.set_progress(1.0)
        with torch.no_grad():
            results[weight] = arcface(batch)
    assert "intra" not in results[0.0][1] and "inter" not in results[0.0][1]
    one, three = results[1.0][1], results[3.0][1]
    assert torch.allclose(one["cross_entropy"], results[0.0][1]["cross_entropy"])
    assert torch.allclose(three["intra"], 3 * one["intra"]) and torch.allclose(three["inter"], 3 * one["inter"])
    assert 0 < one["intra"] < 1 and -1 < one["inter"] < 0  # mean angle / π, and minus it for the centres
    assert torch.allclose(results[1.0][0], one["cross_entropy"] + one["intra"] + one["inter"])


@pytest.mark.parametrize(
    "cls, options, match",
    [
        (ArcFace, {"margin": 2}, r"arcface\['margin'\]: expected a number in \[0, 1.5\), got 2"),
        (ArcFace, {"margin_warmup": 1.5}, r"arcface\['margin_warmup'\]"),
        (ArcFace, {"intra": -1}, r"arcface\['intra'\]"),
        (ArcFace, {"foo": 1}, r"unknown key arcface\['foo'\]"),
        (NormFace, {"scale": 0}, r"normface\['scale'\]"),
        (NormFace, {"margin": 0.5}, r"unknown key normface\['margin'\]"),
        (Softmax, {"scale": 30.0}, r"unknown key softmax\['scale'\]"),
        (Contrastive, {"form": "cosine"}, r"contrastive\['form'\]: expected one of \('margin', 'energy'\)"),
        (Contrastive, {"margin": "1"}, r"contrastive\['margin'\]"),
        (Contrastive, {"lambdas": [1.0, 1.0]}, r"contrastive\['lambdas'\]: expected a list of 3 numbers > 0"),
        (Contrastive, {"lambdas": [1.0, 0.0, 2.0]}, r"contrastive\['lambdas'\]"),
        (Triplet, {"margin": 0}, r"triplet\['margin'\]"),
        (Triplet, {"foo": 1}, r"unknown key triplet\['foo'\]"),
    ],
)
def test_bad_options_are_config_errors_naming_the_key(cls, options, match):
    with pytest.raises(ConfigError, match=match):
        cls(_backbone(), 4, options)


# Four faces on the unit circle, two identities: as given, they are scaled copies of the right, up, left and down
# unit vectors, so the objective must normalise them first.
FIXED = {"image": torch.tensor([[2.0, 0.0], [0.0, 3.0], [-0.5, 0.0], [0.0, -4.0]]), "label": torch.tensor([0, 0, 1, 1])}
R2 = math.sqrt(2)
POSITIVE = [R2, R2]  # (0, 1) and (2, 3)
NEGATIVE = [2.0, R2, R2, 2.0]  # (0, 2), (0, 3), (1, 2), (1, 3)


def test_the_margin_form_averages_positive_and_negative_pairs_separately():
    loss, parts = _on_fixed(Contrastive, {"form": "margin", "margin": 1.5})(FIXED)
    positive = sum(d**2 for d in POSITIVE) / 2
    negative = sum(max(0.0, 1.5 - d) ** 2 for d in NEGATIVE) / 4
    assert parts["positive"].item() == pytest.approx(positive)
    assert parts["negative"].item() == pytest.approx(negative)
    assert loss.item() == pytest.approx(positive + negative)
    assert parts["distance_gap"].item() == pytest.approx(sum(NEGATIVE) / 4 - sum(POSITIVE) / 2)


def test_the_energy_form_penalises_close_negatives_exponentially():
    loss, parts = _on_fixed(Contrastive, {"form": "energy", "lambdas": [0.5, 2.0, 3.0]})(FIXED)
    positive = sum(0.5 * d**2 for d in POSITIVE) / 2
    negative = sum(2.0 * math.exp(-3.0 * d) for d in NEGATIVE) / 4
    assert parts["positive"].item() == pytest.approx(positive)
    assert parts["negative"].item() == pytest.approx(negative)
    assert loss.item() == pytest.approx(positive + negative)


@pytest.mark.parametrize("form", ["margin", "energy"])
def test_a_batch_without_positive_pairs_gives_a_finite_loss_from_its_negatives(form):
    image = torch.tensor([[2.0, 0.5], [0.3, 3.0], [-0.5, 0.1], [0.2, -4.0]], requires_grad=True)
    loss, parts = _on_fixed(Contrastive, {"form": form, "margin": 1.5})({"image": image, "label": torch.arange(4)})
    assert torch.isfinite(loss) and "positive" not in parts
    assert torch.allclose(loss, parts["negative"])
    loss.backward()
    assert torch.isfinite(image.grad).all() and image.grad.abs().sum() > 0


def test_a_batch_without_positive_pairs_logs_no_nan():
    batch = {"image": FIXED["image"], "label": torch.tensor([0, 1, 2, 3])}
    _, parts = _on_fixed(Contrastive)(batch)
    assert all(torch.isfinite(v) for v in parts.values())


def test_triplet_is_batch_hard_on_the_normalised_embeddings():
    g = torch.Generator().manual_seed(5)
    batch = {"image": torch.randn(8, 2, generator=g) * torch.arange(1.0, 9.0)[:, None], "label": LABELS}
    loss, parts = _on_fixed(Triplet, {"margin": 0.3})(batch)
    expected = batch_hard_triplet_loss(F.normalize(batch["image"], dim=1), LABELS, 0.3)
    assert torch.allclose(loss, expected) and torch.allclose(parts["triplet"], expected)
    assert not torch.allclose(loss, batch_hard_triplet_loss(batch["image"], LABELS, 0.3))


def test_triplet_on_the_fixed_circle_by_hand():
    # Each face's farthest positive is at √2 and its nearest negative at √2: every anchor's loss is the margin.
    loss, _ = _on_fixed(Triplet, {"margin": 0.25})(FIXED)
    assert loss.item() == pytest.approx(0.25, abs=1e-6)


def test_the_dataset_is_face_crops_with_the_crop_options_and_seed():
    crops = {"size": 24, "context": 0.3, "jitter": 0.05, "flip": False}
    for cls in (Objective, ArcFace, Triplet):
        dataset = cls.dataset(["synthetic?seed=3&length=5"], crops, seed=7)
        assert isinstance(dataset, FaceCrops) and len(dataset) == 5
        assert (dataset.size, dataset.context, dataset.jitter, dataset.flip, dataset.seed) == (24, 0.3, 0.05, False, 7)
    assert dataset[0]["image"].shape == (3, 24, 24)
    with pytest.raises(ConfigError, match="size"):
        Objective.dataset(["synthetic?seed=3&length=5"], {"size": 4}, seed=0)


@pytest.mark.parametrize(
    "cls, options",
    [
        (Softmax, None),
        (NormFace, None),
        (ArcFace, {"intra": 0.1, "inter": 0.1}),
        (Contrastive, None),
        (Contrastive, {"form": "energy"}),
        (Triplet, None),
    ],
)
def test_a_few_adamw_steps_on_a_fixed_batch_lower_the_loss(cls, options):
    objective = cls(_backbone(seed=11), num_classes=4, options=options)
    objective.set_progress(1.0)
    objective.train()
    batch = _batch(4)
    optimizer = torch.optim.AdamW(objective.parameters(), lr=1e-2)
    with torch.no_grad():
        before = objective(batch)[0].item()
    for _ in range(20):
        loss, _ = objective(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = objective(batch)[0].item()
    assert after < 0.5 * before, (before, after)  # every seed tried ends below a third
