"""The convolutional decoder from a latent vector to an image: DCGAN's generator, and the VAE's decoder."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from facebox.perception.backbones.cnn import Shape

__all__ = ["ConvDecoder"]


class ConvDecoder(nn.Module):
    """``latent`` → linear → a ``channels[0]`` map of side ``H / 2^len(channels)`` → one 4×4 transposed conv of
    stride 2 per width (BatchNorm + ReLU, as DCGAN's generator) → a last transposed conv to the image's channels →
    sigmoid, so outputs are [0, 1] pixels like every crop the trainer reads. ``norm=False`` drops the BatchNorms
    (a decoder whose outputs must not depend on the rest of the batch, such as an inversion's)."""

    def __init__(self, latent: int, shape: Shape, channels: Sequence[int] = (128, 64, 32), norm: bool = True):
        super().__init__()
        channels = [int(c) for c in channels]
        steps = len(channels)
        if shape[1] % 2**steps or shape[2] % 2**steps:
            raise ValueError(f"a decoder of {steps} upsamplings needs H, W divisible by {2**steps}, got {shape}")
        self.side = (shape[1] >> steps, shape[2] >> steps)
        self.start = nn.Linear(latent, channels[0] * self.side[0] * self.side[1])
        layers: list[nn.Module] = [_norm(channels[0], norm), nn.ReLU()]
        for c_in, c_out in zip(channels, channels[1:], strict=False):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=not norm), _norm(c_out, norm), nn.ReLU()]
        layers += [nn.ConvTranspose2d(channels[-1], shape[0], 4, 2, 1), nn.Sigmoid()]
        self.body = nn.Sequential(*layers)
        self.channels, self.latent = channels, latent

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.start(z).view(len(z), self.channels[0], *self.side))


def _norm(channels: int, norm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if norm else nn.Identity()
