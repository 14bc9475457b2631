"""A strided conv trunk: DCGAN's discriminator body, which is also the VAE's encoder and a GAN's critic."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from facebox.perception.backbones.cnn import Shape

__all__ = ["StridedCNN"]


class StridedCNN(nn.Module):
    """4×4 convs of stride 2 with LeakyReLU(0.2), one per width in ``channels`` (each halves the map; no pooling,
    as DCGAN's guidelines ask of a discriminator), then a linear layer to ``features`` and LeakyReLU.

    ``norm`` is ``"none"`` (what WGAN-GP's critic needs: its gradient penalty is per sample, which batch statistics
    would couple), ``"batch"`` (DCGAN's) or ``"layer"`` (GroupNorm with one group, per-sample like "none"). The
    first conv is never normalised, as in DCGAN.
    """

    def __init__(self, shape: Shape, channels: Sequence[int] = (32, 64, 128), features: int = 128, norm: str = "none"):
        super().__init__()
        channels = [int(c) for c in channels]
        if not channels or min(channels) < 1:
            raise ValueError(f"strided channels must be positive widths, got {tuple(channels)}")
        if norm not in _NORMS:
            raise ValueError(f"strided norm must be one of {sorted(_NORMS)}, got {norm!r}")
        if min(shape[1:]) < 2 ** len(channels):
            raise ValueError(f"strided cannot halve a {shape[1]}x{shape[2]} image {len(channels)} times")
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip([shape[0], *channels], channels, strict=False)):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=i == 0 or norm == "none")]
            layers += [_NORMS[norm](c_out)] if i else []
            layers.append(nn.LeakyReLU(0.2))
        self.convs = nn.Sequential(*layers, nn.Flatten())
        side = (shape[1] >> len(channels), shape[2] >> len(channels))
        self.head = nn.Sequential(nn.Linear(channels[-1] * side[0] * side[1], features), nn.LeakyReLU(0.2))
        self.features_dim = features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(x))


_NORMS = {"none": lambda c: nn.Identity(), "batch": nn.BatchNorm2d, "layer": lambda c: nn.GroupNorm(1, c)}
