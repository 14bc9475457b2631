"""Spatial soft-argmax: pooling a feature map into where its keypoints are and what is there."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SpatialSoftmax"]


class SpatialSoftmax(nn.Module):
    """Attention pooling over a feature map: a 1×1 conv scores every position for each of ``keypoints`` maps, a
    softmax over positions turns each into a distribution, and each map yields its expected position (x, y in
    -1..1, the spatial soft-argmax of Levine et al., JMLR 2016) and the map's features averaged under it.
    Output: ``keypoints * (2 + channels)`` numbers, independent of the map size.
    """

    def __init__(self, channels: int, keypoints: int) -> None:
        super().__init__()
        self.score = nn.Conv2d(channels, keypoints, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, h, w = x.shape
        attention = torch.softmax(self.score(x).flatten(2), dim=2)  # B, K, H*W
        ys, xs = torch.meshgrid(
            torch.linspace(-1, 1, h, device=x.device), torch.linspace(-1, 1, w, device=x.device), indexing="ij"
        )
        grid = torch.stack([xs.flatten(), ys.flatten()], dim=1)  # H*W, 2
        pooled = attention @ x.flatten(2).transpose(1, 2)  # B, K, C
        return torch.cat([attention @ grid, pooled], dim=2).view(batch, -1)
