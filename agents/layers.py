"""The per-layer table of an encoder — type, filters/kernel/stride/padding, output size, weights, neurons.

It is computed from the real modules (forward hooks on a dummy image), so it cannot drift from the code.
Weights include biases; neurons are the output activations of the row. A row is the outermost module of a
layer type (a transformer layer is one row); parameters owned by no row (the ViT's CLS token) get a row of
their own, so the weight total is always the module's parameter count.

    python -m facebox.agents.layers --encoder cnn --size 32 [--channels 3]
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from facebox.agents.encoders import SCRATCH_ENCODERS, encoder_policy_kwargs
from facebox.perception.backbones import SpatialSoftmax

__all__ = ["LayerRow", "layer_table", "format_table", "main"]

ROW_TYPES = (nn.Conv2d, nn.MaxPool2d, nn.Linear, nn.TransformerEncoderLayer, nn.LayerNorm, SpatialSoftmax)


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    config: str
    output: tuple[int, ...]  # per example; an image is H, W, C (channel last, as the course writes it)
    weights: int
    neurons: int


def _config(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        groups = f" groups {module.groups}" if module.groups > 1 else ""
        return f"{module.out_channels} × {kh}×{kw} /{module.stride[0]} pad {module.padding[0]}{groups}"
    if isinstance(module, nn.MaxPool2d):
        return f"{module.kernel_size}×{module.kernel_size} /{module.stride}"
    if isinstance(module, nn.Linear):
        return f"{module.in_features} → {module.out_features}"
    if isinstance(module, nn.TransformerEncoderLayer):
        return f"{module.self_attn.num_heads} heads, MLP {module.linear1.out_features}"
    if isinstance(module, SpatialSoftmax):
        return f"{module.score.out_channels} keypoints (1×1 scores)"
    return ""


def layer_table(encoder: str, size: int, in_channels: int = 3, **options: Any) -> list[LayerRow]:
    """Rows for encoder ``encoder`` (with ``options``) on one ``size``×``size``×``in_channels`` uint8 image."""
    kwargs = encoder_policy_kwargs(encoder, **options)
    space = spaces.Dict({"image": spaces.Box(0, 255, (size, size, in_channels), np.uint8)})
    network = kwargs["features_extractor_class"](space, **kwargs["features_extractor_kwargs"]).networks["image"]
    rows: dict[str, nn.Module] = {}
    for name, module in network.named_modules():
        if isinstance(module, ROW_TYPES) and not any(name.startswith(f"{row}.") for row in rows):
            rows[name] = module
    outputs: dict[str, tuple[int, ...]] = {}
    hooks = [
        module.register_forward_hook(lambda _m, _i, out, name=name: outputs.__setitem__(name, tuple(out.shape[1:])))
        for name, module in rows.items()
    ]
    with torch.no_grad():
        network(torch.zeros(1, in_channels, size, size))
    for hook in hooks:
        hook.remove()
    table = []
    for name, module in rows.items():
        shape = outputs[name]
        if len(shape) == 3:  # C, H, W -> H, W, C
            shape = (*shape[1:], shape[0])
        weights = sum(p.numel() for p in module.parameters())
        table.append(LayerRow(name, type(module).__name__, _config(module), shape, weights, math.prod(shape)))
    in_rows = {id(p) for module in rows.values() for p in module.parameters()}
    for name, parameter in network.named_parameters():
        if id(parameter) not in in_rows:
            table.append(LayerRow(name, "Parameter", "", tuple(parameter.shape[1:]), parameter.numel(), 0))
    return table


def format_table(rows: list[LayerRow], title: str) -> str:
    header = ("layer", "type", "filters × kernel /stride pad", "output", "weights", "neurons")
    lines = [(r.name, r.kind, r.config, "×".join(map(str, r.output)), f"{r.weights:,}", f"{r.neurons:,}") for r in rows]
    total = ("total", "", "", "", f"{sum(r.weights for r in rows):,}", f"{sum(r.neurons for r in rows):,}")
    widths = [max(len(line[i]) for line in [header, *lines, total]) for i in range(len(header))]

    def fmt(line: tuple[str, ...]) -> str:
        cells = [
            cell.ljust(w) if i < 4 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = "-" * len(fmt(header))
    return "\n".join([title, fmt(header), rule, *map(fmt, lines), rule, fmt(total)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoder", choices=sorted(SCRATCH_ENCODERS), help="one encoder (default: all)")
    parser.add_argument("--size", type=int, nargs="+", default=[32], help="input side(s) in pixels")
    parser.add_argument("--channels", type=int, default=3)
    args = parser.parse_args(argv)
    for encoder in [args.encoder] if args.encoder else SCRATCH_ENCODERS:
        for size in args.size:
            title = f"{encoder} on {size}×{size}×{args.channels}"
            print(format_table(layer_table(encoder, size, args.channels), title), end="\n\n")


if __name__ == "__main__":
    main()
