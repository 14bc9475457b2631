"""A small vision transformer with fixed 2-D sinusoidal positions, sized for 32-64 px glimpses on a CPU."""

from __future__ import annotations

import torch
from torch import nn

from facebox.perception.backbones.cnn import Shape

__all__ = ["sincos_2d", "PatchTransformer"]


def sincos_2d(rows: int, cols: int, width: int) -> torch.Tensor:
    """Fixed 2-D sinusoidal position codes, ``(rows * cols, width)``, row-major like the patch sequence.

    Patches lie on a grid, so a quarter of the width encodes the row by sin, a quarter by cos, and the other
    half the column (as MAE does): unlike a 1-D code over the flattened sequence, vertically adjacent patches
    get similar codes. Frequencies are geometric from 1 to 1/10000 as in "Attention Is All You Need".
    """
    if width % 4:
        raise ValueError(f"the 2-D sinusoidal code needs width divisible by 4, got {width}")
    quarter = width // 4
    frequencies = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    y, x = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    parts = []
    for position in (y, x):
        angle = position.reshape(-1, 1).double() * frequencies
        parts += [angle.sin(), angle.cos()]
    return torch.cat(parts, dim=1).float()


class PatchTransformer(nn.Module):
    """A small ViT: non-overlapping ``patch``² patches linearly embedded to ``width``, fixed 2-D sinusoidal
    positions added, ``depth`` pre-norm transformer layers with ``heads`` heads (MLP 4 × width, GELU, no
    dropout: RL data are not scarce in the way dropout helps), then a final LayerNorm. The output is the CLS
    token (``pool="cls"``) or the mean over patch tokens (``pool="mean"``).

    The position code is a buffer, not a parameter (it is derived from the grid size, so it is also left out
    of the state dict).
    """

    POOLS = ("cls", "mean")

    def __init__(
        self, shape: Shape, patch: int = 8, depth: int = 2, heads: int = 4, width: int = 64, pool: str = "cls"
    ) -> None:
        super().__init__()
        c, h, w = shape
        if h % patch or w % patch:
            raise ValueError(f"vit patch size {patch} must divide the image size {h}x{w}")
        if width % heads:
            raise ValueError(f"vit width {width} must be divisible by heads {heads}")
        if pool not in self.POOLS:
            raise ValueError(f"vit pool {pool!r}; expected one of {self.POOLS}")
        self.pool = pool
        self.patchify = nn.Conv2d(c, width, patch, stride=patch)
        self.register_buffer("position", sincos_2d(h // patch, w // patch, width), persistent=False)
        self.cls = nn.Parameter(torch.zeros(1, 1, width)) if pool == "cls" else None
        self.blocks = self.make_blocks(depth, heads, width)
        self.norm = nn.LayerNorm(width)
        self.features_dim = width

    @staticmethod
    def make_blocks(depth: int, heads: int, width: int) -> nn.Module:
        """The token mixer, ``[B, T, width] -> [B, T, width]``: here softmax attention; subclasses swap it."""
        layer = nn.TransformerEncoderLayer(
            width, heads, 4 * width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        return nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patchify(x).flatten(2).transpose(1, 2) + self.position
        if self.cls is not None:
            tokens = torch.cat([self.cls.expand(len(tokens), -1, -1), tokens], dim=1)
        tokens = self.norm(self.blocks(tokens))
        return tokens[:, 0] if self.cls is not None else tokens.mean(dim=1)
