"""Objectives: a backbone and the loss it is trained by, one class per method, chosen by name from ``OBJECTIVES``.

Every objective is an ``nn.Module`` that owns the backbone (behind its input normalisation) and whatever the loss
needs besides (class centres, heads); ``forward(batch)`` returns the loss and its named parts for the log, so the
one trainer (:mod:`facebox.perception.trainer`) runs every method alike. ``set_progress(p)`` tells an objective how
far training is (``p`` in [0, 1]) for what is scheduled over a run: ArcFace's margin warm-up, DANN's ``λ``.

Classification objectives (``softmax``, ``normface``, ``arcface``) learn one centre per training identity, and a
verifier can compare a face with a trained identity's centre; metric objectives (``contrastive``, ``triplet``) learn
only the embedding, from identity-balanced batches (``sampler = "balanced"``: several faces of each identity in
every batch, or a batch has no positive pairs).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from facebox.config import Rule, check_values, merge_config, number, one_of
from facebox.perception.checkpoints import Normalized
from facebox.perception.data import FaceCrops
from facebox.perception.losses import (
    arcface_logits,
    batch_hard_triplet_loss,
    contrastive_loss,
    cosine_logits,
    energy_contrastive_loss,
    inter_loss,
    intra_loss,
)

__all__ = ["Objective", "OBJECTIVES", "Softmax", "NormFace", "ArcFace", "Contrastive", "Triplet"]

Parts = dict[str, torch.Tensor]


class Objective(nn.Module, abc.ABC):
    """A backbone and its loss. ``defaults``/``rules`` are the method's options (checked like every config);
    ``sampler`` says which batches it needs; :meth:`dataset` which items; :meth:`schedule` what it schedules."""

    defaults: dict[str, Any] = {}
    rules: dict = {}
    sampler = "shuffle"

    def __init__(self, backbone: Normalized, num_classes: int, options: Mapping | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.options = merge_config(self.defaults, options, type(self).__name__.lower())
        check_values(self.options, self.rules, type(self).__name__.lower())
        self.progress, self.player = 0.0, "model"

    @classmethod
    def dataset(cls, specs: list[str], crops: Mapping[str, Any], seed: int) -> torch.utils.data.Dataset:
        """The training items this method learns from: face crops with identities (DANN reads windows instead)."""
        return FaceCrops(specs, seed=seed, **crops)

    def set_progress(self, progress: float) -> None:
        self.progress = float(progress)

    def schedule(self) -> dict[str, float]:
        """The values this objective schedules over training, at the current progress (logged by the trainer)."""
        return {}

    def players(self) -> dict[str, list[nn.Parameter]]:
        """The parameter sets that take turns, each with its own optimizer: one, the whole objective, except for the
        adversarial methods (a GAN's generator and discriminator play against each other)."""
        return {"model": [p for p in self.parameters() if p.requires_grad]}

    def turn(self, step: int) -> str:
        """The player the trainer's ``step`` updates; ``forward`` reads it from :attr:`player` and returns that
        player's loss (a WGAN's critic moves 5 times for every move of its generator)."""
        return "model"

    def visuals(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Images for TensorBoard at each validation, from a fixed batch of [0, 1] crops: a generative method's
        samples and reconstructions (``[N, C, H, W]`` in [0, 1] each)."""
        return {}

    @abc.abstractmethod
    def forward(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, Parts]:
        """The loss of ``batch`` and its named parts (loss terms and metrics) for the log."""


class Softmax(Objective):
    """Plain softmax cross-entropy over a linear layer: ``centres`` are its weight rows (and a bias); the baseline
    whose features ArcFace's paper shows spread radially rather than by angle."""

    def __init__(self, backbone: Normalized, num_classes: int, options: Mapping | None = None) -> None:
        super().__init__(backbone, num_classes, options)
        if num_classes < 2:
            raise ValueError(f"{type(self).__name__.lower()} needs at least 2 identities, got {num_classes}")
        self.centres = nn.Parameter(torch.randn(num_classes, backbone.features_dim) * 0.01)
        self.bias = nn.Parameter(torch.zeros(num_classes)) if type(self) is Softmax else None

    def logits(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the loss's logits, the margin-free scores accuracy is read from)."""
        logits = F.linear(features, self.centres, self.bias)
        return logits, logits

    def extra(self, cosines: torch.Tensor, labels: torch.Tensor) -> Parts:
        return {}

    def forward(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, Parts]:
        labels = batch["label"]
        logits, scores = self.logits(self.backbone(batch["image"]), labels)
        parts = {"cross_entropy": F.cross_entropy(logits, labels)}
        parts.update(self.extra(scores, labels))
        loss = sum(parts.values())
        parts["accuracy"] = (scores.argmax(1) == labels).float().mean()
        return loss, parts


class NormFace(Softmax):
    """Normalised softmax: logits ``s·cos θ_j`` (features and centres on the unit sphere), no margin."""

    defaults = {"scale": 30.0}
    rules = {"scale": number(gt=0)}

    def logits(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cosines = cosine_logits(features, self.centres)
        return self.options["scale"] * cosines, cosines


class ArcFace(NormFace):
    """ArcFace: ``s·cos(θ_y + m)`` for the target. The margin grows linearly from 0 over the first
    ``margin_warmup`` of training: from random centres nearly every angle is ~90°, and the full margin from step 0
    keeps small data from converging (the warm-up the ArcFace authors' code calls "easy margin" is another cure).
    ``intra`` and ``inter`` weight the paper's Intra-Loss and Inter-Loss terms (Eqs. 5-6; 0 leaves them out)."""

    defaults = {"scale": 30.0, "margin": 0.5, "margin_warmup": 0.2, "intra": 0.0, "inter": 0.0}
    rules = {
        "scale": number(gt=0),
        "margin": number(ge=0, lt=1.5),
        "margin_warmup": number(ge=0, le=1),
        "intra": number(ge=0),
        "inter": number(ge=0),
    }

    @property
    def margin(self) -> float:
        warmup = self.options["margin_warmup"]
        ramp = min(1.0, self.progress / warmup) if warmup > 0 else 1.0
        return self.options["margin"] * ramp

    def schedule(self) -> dict[str, float]:
        return {"margin": self.margin}

    def logits(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cosines = cosine_logits(features, self.centres)
        return arcface_logits(cosines, labels, self.options["scale"], self.margin), cosines

    def extra(self, cosines: torch.Tensor, labels: torch.Tensor) -> Parts:
        parts = {}
        if self.options["intra"]:
            parts["intra"] = self.options["intra"] * intra_loss(cosines, labels)
        if self.options["inter"]:
            parts["inter"] = self.options["inter"] * inter_loss(self.centres, labels)
        return parts


_THREE_POSITIVE = Rule(
    "a list of 3 numbers > 0",
    lambda v: isinstance(v, list | tuple) and len(v) == 3 and all(number(gt=0).test(x) for x in v),
)


def _pairs(embeddings: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Distances and same-identity flags of every pair ``i < j`` in the batch."""
    i, j = torch.triu_indices(len(labels), len(labels), offset=1, device=labels.device)
    return (embeddings[i] - embeddings[j]).norm(dim=1), labels[i] == labels[j]


class Contrastive(Objective):
    """Siamese training: one shared network embeds both faces of every pair in the batch (on the unit sphere, so
    distances lie in [0, 2]), with the margin form (``form: margin``, margin ``k``) or the energy form (``form:
    energy``, ``λ1, λ2, λ3``). Positive and negative pairs are averaged separately and added: a balanced batch of
    ``n`` identities has about ``n`` times more negative pairs, which would otherwise drown the positives."""

    defaults = {"form": "margin", "margin": 1.0, "lambdas": [1.0, 1.0, 2.0]}
    rules = {"form": one_of("margin", "energy"), "margin": number(gt=0), "lambdas": _THREE_POSITIVE}
    sampler = "balanced"

    def forward(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, Parts]:
        embeddings = F.normalize(self.backbone(batch["image"]), dim=1)
        distances, same = _pairs(embeddings, batch["label"])
        if self.options["form"] == "margin":
            losses = {
                name: contrastive_loss(distances[mask], same[mask], self.options["margin"])
                for name, mask in (("positive", same), ("negative", ~same))
            }
        else:
            lambdas = tuple(self.options["lambdas"])
            losses = {
                name: energy_contrastive_loss(distances[mask], same[mask], lambdas)
                for name, mask in (("positive", same), ("negative", ~same))
            }
        parts = {k: v for k, v in losses.items() if not v.isnan()}
        if same.any() and (~same).any():  # the gap is a metric of batches with both kinds of pair
            parts["distance_gap"] = (distances[~same].mean() - distances[same].mean()).detach()
        return sum(v for k, v in parts.items() if k != "distance_gap"), parts


class Triplet(Objective):
    """Triplet loss with batch-hard mining (Hermans et al., 2017) on unit-sphere embeddings, from identity-balanced
    batches."""

    defaults = {"margin": 0.2}
    rules = {"margin": number(gt=0)}
    sampler = "balanced"

    def forward(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, Parts]:
        embeddings = F.normalize(self.backbone(batch["image"]), dim=1)
        loss = batch_hard_triplet_loss(embeddings, batch["label"], self.options["margin"])
        return loss, {"triplet": loss}


OBJECTIVES: dict[str, type[Objective]] = {
    "softmax": Softmax,
    "normface": NormFace,
    "arcface": ArcFace,
    "contrastive": Contrastive,
    "triplet": Triplet,
}
