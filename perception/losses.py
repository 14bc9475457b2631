"""Metric-learning losses as plain functions that objectives combine: angular-margin classification on normalised
features (ArcFace; Deng et al., CVPR 2019) with the paper's intra- and inter-class angle terms, and the pair and
triplet losses of Siamese networks.

Normalising features and class centres puts every face on a hypersphere where only angles matter; ArcFace adds a
margin ``m`` to the angle between a face and its own centre, so a class is learnt only once its faces sit ``m``
closer to their centre than to any other. Plain softmax (``m = 0`` on unnormalised logits) and normalised softmax
(``m = 0``) are its baselines. The Siamese forms compare two faces through one shared network: the margin form
pulls same-identity pairs together and pushes others beyond a margin ``k``; the energy form (Chopra, Hadsell and
LeCun's) penalises a different pair's low energy ``E`` exponentially instead. The triplet loss with batch-hard
mining (Hermans et al. 2017) takes, for every face, its farthest same-identity face and nearest other one.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

__all__ = [
    "cosine_logits",
    "arcface_logits",
    "intra_loss",
    "inter_loss",
    "contrastive_loss",
    "energy_contrastive_loss",
    "batch_hard_triplet_loss",
]


def cosine_logits(features: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """``cos θ_j`` between each feature (N x D) and each class centre (C x D): N x C."""
    return F.normalize(features, dim=1) @ F.normalize(centres, dim=1).T


def arcface_logits(cosines: torch.Tensor, labels: torch.Tensor, scale: float, margin: float) -> torch.Tensor:
    """``s·cos θ_j`` for the other classes and ``s·cos(θ_y + m)`` for the target (``margin`` in radians).

    Where ``θ_y + m`` would pass π, ``cos(θ_y + m)`` would rise again and reward a face for moving away from its
    centre; there the target logit is ``s·(cos θ_y − m·sin m)`` instead, which keeps decreasing in ``θ_y`` (the form
    of the authors' code, and of pytorch-metric-learning's ``ArcFaceLoss``).
    """
    target = cosines.gather(1, labels[:, None]).squeeze(1)
    theta = torch.acos(target.clamp(-1.0, 1.0))
    shifted = torch.where(theta <= math.pi - margin, torch.cos(theta + margin), target - margin * math.sin(margin))
    return scale * cosines.scatter(1, labels[:, None], shifted[:, None])


def intra_loss(cosines: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The paper's Intra-Loss term (Eq. 5 without its softmax part): the mean angle to the own centre, over π."""
    target = cosines.gather(1, labels[:, None]).squeeze(1)
    return torch.acos(target.clamp(-1.0 + 1e-7, 1.0 - 1e-7)).mean() / math.pi


def inter_loss(centres: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The paper's Inter-Loss term (Eq. 6 without its softmax part): minus the mean angle between each face's own
    centre and every other centre, over π; lower when the centres spread apart."""
    normal = F.normalize(centres, dim=1)
    angles = torch.acos((normal[labels] @ normal.T).clamp(-1.0 + 1e-7, 1.0 - 1e-7))  # N x C
    others = torch.ones_like(angles).scatter(1, labels[:, None], 0.0)
    return -(angles * others).sum() / (math.pi * len(labels) * (len(centres) - 1))


def contrastive_loss(distances: torch.Tensor, same: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean of ``y·d² + (1 − y)·max(0, k − d)²`` over pairs at distance ``d`` (``same`` is y: 1 for one identity)."""
    same = same.to(distances.dtype)
    return (same * distances**2 + (1 - same) * F.relu(margin - distances) ** 2).mean()


def energy_contrastive_loss(
    energies: torch.Tensor, same: torch.Tensor, lambdas: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> torch.Tensor:
    """Mean of ``y·λ1·E² + (1 − y)·λ2·exp(−λ3·E)`` over pairs of energy ``E`` (a distance between embeddings)."""
    l1, l2, l3 = lambdas
    same = same.to(energies.dtype)
    return (same * l1 * energies**2 + (1 - same) * l2 * torch.exp(-l3 * energies)).mean()


def batch_hard_triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean over anchors of ``max(0, d(a, hardest positive) − d(a, hardest negative) + margin)`` (Euclidean
    distances), over the anchors that have both in the batch: an identity-balanced sampler makes that all of them."""
    distances = torch.cdist(embeddings, embeddings)
    same = labels[:, None] == labels[None, :]
    positive = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    usable = positive.any(1) & (~same).any(1)
    if not usable.any():
        raise ValueError("batch-hard triplets need a batch with two faces of one identity and one of another")
    hardest_positive = distances.masked_fill(~positive, float("-inf")).amax(1)
    hardest_negative = distances.masked_fill(same, float("inf")).amin(1)
    return F.relu(hardest_positive - hardest_negative + margin)[usable].mean()
