"""A small DDPM U-Net (Ho et al., 2020, scaled down for 32-pixel crops on a CPU) that is also a facebox backbone.

The denoiser ``denoise(x_t, t) -> ε̂`` is what :mod:`facebox.perception.diffusion.ddpm` trains. As a backbone,
``forward(x)`` is the globally pooled bottleneck of the encoder alone, run on ``x`` itself at a fixed timestep
``feature_t``: Baranchuk et al. ("Label-Efficient Semantic Segmentation with Diffusion Models", ICLR 2022) read a
DDPM's activations for a *slightly noised* input (t ≈ 50-250 of 1000); an agent's encoder must be deterministic, so
we feed the clean crop and only tell the network the small ``t`` (at t = 50 of Ho's schedule the noise std is
≈ 0.09 of the data's, so a clean crop is close to what the network saw at that t). ``features(x, t)`` returns the
decoder's activations at every resolution, what such a pixel classifier reads.

Architecture (Ho et al.'s, without attention, one residual block per level): a 3×3 stem, then per resolution a
residual block (GroupNorm, SiLU, 3×3 conv, the time embedding added, GroupNorm, SiLU, 3×3 conv, plus a 1×1 shortcut
when the width changes) and a stride-2 conv down; a residual bottleneck; the decoder mirrors it with the encoder's
activation of the same resolution concatenated (the skip connections) and nearest upsampling + 3×3 conv. The
timestep enters as a sinusoidal embedding (Vaswani et al.'s, as in DDPM) of width ``channels[0]`` through a
two-layer MLP to 4× that, projected into every block.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from facebox.perception.backbones.cnn import Shape

__all__ = ["UNet", "timestep_embedding"]


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """``[N, dim]`` sinusoids of the timesteps ``t`` ([N]), frequencies geometric from 1 to 1/10000."""
    half = dim // 2
    frequencies = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * frequencies[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class ResBlock(nn.Module):
    """``x + f(x, t)`` with the time embedding added between the two convs (a 1×1 shortcut if widths differ)."""

    def __init__(self, c_in: int, c_out: int, time_dim: int, groups: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(time_dim, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(groups, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.time(F.silu(emb))[:, :, None, None]
        return self.shortcut(x) + self.conv2(F.silu(self.norm2(h)))


class UNet(nn.Module):
    """The ε-predicting U-Net over ``shape`` (CxHxW) images, one resolution per width in ``channels`` (each but the
    last halves the map, so H and W must divide by ``2**(len(channels) - 1)``); GroupNorm of ``groups`` groups
    (every width must divide by it). ``features_dim`` is ``channels[-1]``."""

    def __init__(
        self, shape: Shape, channels: Sequence[int] = (32, 64, 128), feature_t: int = 50, groups: int = 8
    ) -> None:
        super().__init__()
        channels = [int(c) for c in channels]
        if len(channels) < 2 or min(channels) < 1:
            raise ValueError(f"unet channels must be at least 2 positive widths, got {tuple(channels)}")
        if any(c % groups for c in channels) or channels[0] % 2:
            raise ValueError(f"unet channels {tuple(channels)} must divide by groups={groups} (and the first be even)")
        if shape[1] % 2 ** (len(channels) - 1) or shape[2] % 2 ** (len(channels) - 1):
            raise ValueError(f"unet cannot halve a {shape[1]}x{shape[2]} image {len(channels) - 1} times")
        if isinstance(feature_t, bool) or not isinstance(feature_t, int) or feature_t < 0:
            raise ValueError(f"unet feature_t must be an integer timestep >= 0, got {feature_t!r}")
        self.feature_t, self.embed_dim, time_dim = feature_t, channels[0], 4 * channels[0]
        self.time = nn.Sequential(nn.Linear(channels[0], time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim))
        self.stem = nn.Conv2d(shape[0], channels[0], 3, padding=1)
        self.down = nn.ModuleList(
            ResBlock(a, b, time_dim, groups) for a, b in zip([channels[0], *channels], channels, strict=False)
        )
        self.downsample = nn.ModuleList(nn.Conv2d(c, c, 3, stride=2, padding=1) for c in channels[:-1])
        self.middle = ResBlock(channels[-1], channels[-1], time_dim, groups)
        self.up = nn.ModuleList(ResBlock(2 * c, c, time_dim, groups) for c in channels)
        self.upsample = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(b, a, 3, padding=1))
            for a, b in zip(channels[:-1], channels[1:], strict=False)
        )
        self.out = nn.Sequential(
            nn.GroupNorm(groups, channels[0]), nn.SiLU(), nn.Conv2d(channels[0], shape[0], 3, 1, 1)
        )
        self.features_dim = channels[-1]

    def _embed(self, x: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        t = torch.as_tensor(t, device=x.device).expand(len(x))
        return self.time(timestep_embedding(t, self.embed_dim).to(x.dtype))

    def _encode(self, x: torch.Tensor, emb: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h, skips = self.stem(x), []
        for i, block in enumerate(self.down):
            h = block(h, emb)
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        return self.middle(h, emb), skips

    def features(self, x: torch.Tensor, t: torch.Tensor | int) -> list[torch.Tensor]:
        """The decoder's activations of ``x`` at timestep ``t``, one map per resolution, lowest first."""
        emb = self._embed(x, t)
        h, skips = self._encode(x, emb)
        maps = []
        for i in reversed(range(len(self.up))):
            h = self.up[i](torch.cat([h, skips[i]], dim=1), emb)
            maps.append(h)
            if i:
                h = self.upsample[i - 1](h)
        return maps

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """ε̂: the noise the network sees in ``x_t`` at timestep ``t`` (an int or [N]), full resolution."""
        return self.out(self.features(x_t, t)[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, features_dim]``: the bottleneck of ``x`` at ``feature_t``, averaged over space."""
        h, _ = self._encode(x, self._embed(x, self.feature_t))
        return h.mean((2, 3))
