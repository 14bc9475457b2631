"""A ViT with linear attention for 128-256 px glimpses: the cost grows with the number of patches, not its square.

Katharopoulos et al., "Transformers are RNNs: Fast Autoregressive Transformers with Linear Attention" (ICML 2020)
replace the softmax similarity exp(q·k) by a kernel φ(q)·φ(k) with the positive feature map φ(x) = elu(x) + 1.
Attention then factorises by associativity:

    out_i = Σ_j φ(q_i)·φ(k_j) v_j / Σ_j φ(q_i)·φ(k_j) = φ(q_i)ᵀ (Σ_j φ(k_j) v_jᵀ) / φ(q_i)ᵀ (Σ_j φ(k_j)),

so the d×d matrix Σ_j φ(k_j) v_jᵀ and the d-vector Σ_j φ(k_j) are summed once over the N tokens and shared by
every query; no N×N matrix is ever formed. With N tokens, width d and h heads (d/h per head), one attention layer
costs (time; memory kept for the backward pass):

- softmax attention (:class:`~facebox.perception.backbones.transformer.PatchTransformer`): O(N²·d) time,
  O(h·N²) memory for the attention weights (O(N·d) with a fused kernel that recomputes them);
- linear attention (here): O(N·d²/h) time, O(N·d + d²/h) memory.

The projections and the MLP cost O(N·d²) in both, so a whole layer is O(N²·d + N·d²) against O(N·d²): the
linear model wins once N exceeds about d (patch 8 at 128 px gives N = 256 tokens, at 256 px N = 1024, against
d = 64). The price is a blunter similarity (φ(q)·φ(k) cannot be as peaked as a softmax), which the paper finds
costs little accuracy on images. Everything else (patch embedding, 2-D sinusoidal positions, pre-norm layers
with a 4×d GELU MLP, CLS or mean pool) is :class:`PatchTransformer`'s, so the two differ only in attention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from facebox.perception.backbones.transformer import PatchTransformer

__all__ = ["feature_map", "linear_attention", "LinearAttention", "LinearBlock", "LinearTransformer"]


def feature_map(x: torch.Tensor) -> torch.Tensor:
    """φ(x) = elu(x) + 1: positive (so the normaliser never vanishes or flips sign) and smooth, unlike relu."""
    return F.elu(x) + 1


def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Non-causal linear attention over ``[..., N, d]`` queries, keys and values (``v`` may have its own width).

    ``out_i = φ(q_i)ᵀ S / (φ(q_i)ᵀ z + eps)`` with ``S = Σ_j φ(k_j) v_jᵀ`` and ``z = Σ_j φ(k_j)``; ``eps`` guards
    the division as in the authors' code (the normaliser is positive, but can underflow).
    """
    q, k = feature_map(q), feature_map(k)
    state = k.transpose(-2, -1) @ v  # [..., d, d_v]: Σ_j φ(k_j) v_jᵀ
    normaliser = q @ k.sum(dim=-2, keepdim=True).transpose(-2, -1)  # [..., N, 1]: φ(q_i)ᵀ Σ_j φ(k_j)
    return (q @ state) / (normaliser + eps)


class LinearAttention(nn.Module):
    """Multi-head linear self-attention: one ``width → 3·width`` projection for queries, keys and values (as
    ``nn.MultiheadAttention``, so the parameter count matches the plain ViT's), heads of ``width / heads``."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # 3 x [B, h, N, d/h]
        return self.out(linear_attention(q, k, v).transpose(1, 2).reshape(b, n, d))


class LinearBlock(nn.Module):
    """A pre-norm transformer layer like ``nn.TransformerEncoderLayer(norm_first=True, activation="gelu",
    dropout=0)`` with :class:`LinearAttention` in place of softmax attention."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attention = LinearAttention(width, heads)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class LinearTransformer(PatchTransformer):
    """:class:`PatchTransformer` (same options, checks, patch embedding, positions, pooling and output) with
    ``depth`` :class:`LinearBlock` layers: O(N·d²) instead of O(N²·d) in the N patches (see the module doc)."""

    @staticmethod
    def make_blocks(depth: int, heads: int, width: int) -> nn.Module:
        return nn.Sequential(*(LinearBlock(width, heads) for _ in range(depth)))
