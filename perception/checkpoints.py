"""Perception checkpoints: one versioned file that rebuilds the backbone anywhere and resumes its training.

A checkpoint is a plain dict of tensors and Python values, so it loads with ``torch.load(weights_only=True)`` (no
pickled code runs): the format and its version, the facebox version that wrote it, the backbone's registry name,
keyword arguments and weights, the input it expects (CxHxW crop of a face box grown by ``context``, pixels in
[0, 1] normalised by ``mean``/``std``), the objective with its own weights (class centres, heads), the training
config, the step, and the trainer's state (optimizer, schedule, RNG) for ``--resume``. Files are written
atomically, so a run killed mid-save leaves the previous checkpoint whole.

:func:`load_backbone` is what everything downstream uses (verification, inversion, the agents' ``pretrained``
encoder): it returns the backbone behind its input normalisation, so callers feed [0, 1] crops and need not know
how it was trained.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from facebox import __version__
from facebox.config import ConfigError
from facebox.perception.backbones import build_backbone
from facebox.runs import atomic_write

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "CheckpointError",
    "Normalized",
    "save_checkpoint",
    "read_checkpoint",
    "load_backbone",
]

FORMAT, FORMAT_VERSION = "facebox.perception", 1
_KEYS = ("backbone", "input", "objective", "config", "step")


class CheckpointError(ValueError):
    """A perception checkpoint that cannot be used; the message names the file and what is wrong."""


class Normalized(nn.Module):
    """``backbone((x - mean) / std)`` for [0, 1] CxHxW input; ``info`` is the checkpoint's input description.

    ``freeze`` turns off gradients and keeps the module in eval mode even when a parent calls ``train()``: a frozen
    BatchNorm must not drift its running statistics towards the agent's glimpses.
    """

    def __init__(self, backbone: nn.Module, info: Mapping[str, Any], freeze: bool = False) -> None:
        super().__init__()
        self.backbone, self.info, self.frozen = backbone, dict(info), freeze
        shape = (-1, 1, 1)
        self.register_buffer("mean", torch.tensor(info["mean"], dtype=torch.float32).view(shape), persistent=False)
        self.register_buffer("std", torch.tensor(info["std"], dtype=torch.float32).view(shape), persistent=False)
        self.features_dim = backbone.features_dim
        if freeze:
            self.requires_grad_(False)
            self.eval()

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.info["shape"])

    def train(self, mode: bool = True) -> Normalized:
        return super().train(mode and not self.frozen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone((x - self.mean) / self.std)


def save_checkpoint(path: str | Path, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` (backbone, input, objective, config, step, and optionally trainer) atomically at ``path``,
    stamped with the format, its version and the facebox version."""
    missing = [k for k in _KEYS if k not in payload]
    if missing:
        raise ValueError(f"a perception checkpoint needs {missing}")
    data = {"format": FORMAT, "format_version": FORMAT_VERSION, "facebox_version": __version__, **payload}
    buffer = io.BytesIO()
    torch.save(data, buffer)
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict at ``path``, checked: its format, its version, and the keys every reader needs."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such perception checkpoint")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated file, an SB3 zip, a pickle of arbitrary objects
        reason = f"{type(error).__name__}: {error}"
        raise CheckpointError(f"{path}: not a readable perception checkpoint ({reason})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a facebox perception checkpoint (no format {FORMAT!r})")
    if data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {data.get('format_version')!r}; this facebox "
            f"({__version__}) reads version {FORMAT_VERSION}"
        )
    missing = [k for k in _KEYS if k not in data]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {missing}")
    return data


def load_backbone(path: str | Path, freeze: bool = True) -> Normalized:
    """The trained backbone of the checkpoint at ``path`` behind its input normalisation (:class:`Normalized`);
    ``freeze`` as there. Weights that do not fit the backbone the checkpoint names raise a ``CheckpointError``."""
    data = read_checkpoint(path)
    spec = data["backbone"]
    try:
        backbone = build_backbone(spec["name"], data["input"]["shape"], spec["kwargs"])
    except ConfigError as error:  # written by another facebox version, or edited
        raise CheckpointError(f"{path}: cannot build its backbone: {error}") from None
    try:
        backbone.load_state_dict(spec["state_dict"])
    except RuntimeError as error:
        raise CheckpointError(f"{path}: the weights do not fit backbone {spec['name']!r}: {error}") from None
    return Normalized(backbone, data["input"], freeze=freeze)
