"""Angular-margin classification losses on normalised features (ArcFace; Deng et al., CVPR 2019) and the paper's
intra- and inter-class angle terms, as plain functions that objectives combine.

Normalising features and class centres puts every face on a hypersphere where only angles matter; ArcFace adds a
margin ``m`` to the angle between a face and its own centre, so a class is learnt only once its faces sit ``m``
closer to their centre than to any other. Plain softmax (``m = 0`` on unnormalised logits) and normalised softmax
(``m = 0``) are its baselines.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

__all__ = ["cosine_logits", "arcface_logits", "intra_loss", "inter_loss"]


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
