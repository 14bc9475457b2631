"""The gradient-reversal layer of DANN (Ganin & Lempitsky, ICML 2015) and its schedule.

DANN trains one feature extractor for two heads that pull opposite ways: the task head (face or not, where the box
is) and a domain classifier (synthetic or real). Between the features and the domain classifier sits a layer that is
the identity going forward and multiplies the gradient by ``-λ`` going back, so the same backward pass trains the
classifier to tell the domains apart and the features to make that impossible. ``λ`` grows from 0 to 1 as
``2 / (1 + exp(-10 p)) - 1`` over training progress ``p``, the paper's schedule: early on, the domain classifier's
gradients are noise and would swamp the task.
"""

from __future__ import annotations

import math

import torch

__all__ = ["reverse_gradient", "dann_lambda"]


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, lam: float) -> torch.Tensor:
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.lam * grad, None


def reverse_gradient(x: torch.Tensor, lam: float) -> torch.Tensor:
    """``x`` unchanged; its gradient multiplied by ``-lam`` on the way back."""
    return _Reverse.apply(x, float(lam))


def dann_lambda(progress: float) -> float:
    """The paper's ``λ = 2 / (1 + exp(-10 p)) - 1`` at training progress ``p`` in [0, 1]."""
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"training progress must be in [0, 1], got {progress}")
    return 2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0
