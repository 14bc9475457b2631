"""A linear encoder: the whole crop, flattened, through one affine map (the linear VAE's and pPCA's encoder)."""

from __future__ import annotations

import torch
from torch import nn

from facebox.perception.backbones.cnn import Shape

__all__ = ["LinearEncoder"]


class LinearEncoder(nn.Module):
    """``Flatten`` then ``Linear(C·H·W → features)`` with a bias: ``Wx + c``. The bias is what makes a linear VAE's
    encoder mean exact on data that is not centred: the optimal mean is ``W(x − b)`` for the decoder's mean ``b``,
    that is ``Wx + c`` with ``c = −Wb`` (the input normalisation centres each channel, not each pixel)."""

    def __init__(self, shape: Shape, features: int = 32):
        super().__init__()
        if features < 1:
            raise ValueError(f"linear features must be >= 1, got {features}")
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(shape[0] * shape[1] * shape[2], features)
        self.features_dim = features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.flatten(x))
