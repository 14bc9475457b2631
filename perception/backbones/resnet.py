"""A small ResNet for 32-64 px face crops: what face-recognition papers train, cut to CPU size."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from facebox.perception.backbones.cnn import Shape

__all__ = ["SmallResNet"]


class _Block(nn.Module):
    """A basic residual block (two 3x3 convs with BatchNorm; He et al., CVPR 2016), a 1x1 projection when the
    width or stride changes."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.skip = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class SmallResNet(nn.Module):
    """A 3x3 stem, one residual block per width in ``channels`` (each after the first halves the map), global
    average pooling, then a linear embedding of ``features`` with BatchNorm (ArcFace's "BN-FC-BN" output, minus the
    dropout, which small data do not need).

    With the default widths (32, 64, 128, 256) a 64 px crop ends on an 8x8 map, and one forward costs about a
    tenth of the course CNN's at the same input: the convs are narrow and the FC reads 256 numbers, not a map.
    BatchNorm is what ArcFace inversion's prior reads (the stored mean and variance of every layer's input).
    """

    def __init__(self, shape: Shape, channels: Sequence[int] = (32, 64, 128, 256), features: int = 128) -> None:
        super().__init__()
        channels = [int(c) for c in channels]
        if not channels or min(channels) < 1:
            raise ValueError(f"resnet channels must be positive widths, got {tuple(channels)}")
        self.stem = nn.Sequential(
            nn.Conv2d(shape[0], channels[0], 3, 1, 1, bias=False), nn.BatchNorm2d(channels[0]), nn.ReLU(inplace=True)
        )
        widths = [channels[0], *channels]
        strides = [1] + [2] * (len(channels) - 1)
        self.blocks = nn.Sequential(*(_Block(*args) for args in zip(widths, channels, strides, strict=False)))
        self.embed = nn.Sequential(nn.Linear(channels[-1], features), nn.BatchNorm1d(features))
        self.features_dim = features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.blocks(self.stem(x)).mean(dim=(2, 3))
        return self.embed(pooled)
