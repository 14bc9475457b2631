"""The supervised detection head: the honest non-RL baseline of the localization agent.

The agent's encoder with a classification output (face or no face, binary cross-entropy) and a box-regression
output (the face box as DANN's offsets, :func:`~facebox.perception.dann.encode_offsets`, mean squared error on the
faces only), trained on windows of the same training photos, synthetic and real alike, with their labels: no domain
classifier, since every source is labelled here. What it is compared with needs the same start, so the windows
(:class:`~facebox.perception.dann.Windows` with ``wide``) cover every scale from the face with its context up to the
whole image, where the agent's episodes and this baseline's inference begin.

Transfer learning is the trainer's ``init`` and ``freeze`` (:mod:`facebox.perception.trainer`): the backbone of
another checkpoint, kept fixed while the head learns. The checkpoint this objective writes is an ordinary perception
checkpoint, so its encoder is one more ``pretrained`` encoder for the agents; :func:`load_detector` rebuilds the
whole detector (backbone and head) for the benchmark.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from facebox.config import number
from facebox.perception.checkpoints import CheckpointError, Normalized, load_backbone, read_checkpoint
from facebox.perception.dann import Windows, masked_mean
from facebox.perception.objectives import Objective, Parts

__all__ = ["Detection", "load_detector", "WIDE"]

WIDE = 0.5  # half the positives are wide (the first rounds of inference), half near the face (the refinements)


class Detection(Objective):
    """Backbone, then a head ``D → hidden → ReLU → 5``: the face logit and the 4 box offsets (as DANN's task head,
    with a hidden layer, so that a frozen backbone's features still get a non-linear read-out). The loss is the
    face's binary cross-entropy on every window plus ``box_weight`` times the squared error of the offsets, summed
    over the 4 and averaged over the faces (a negative has no box). ``num_classes`` is unused (windows have no
    identities). DANN's ``labelled`` flag (synthetic only) is not read: this method is supervised on every source.
    """

    defaults = {"box_weight": 1.0, "hidden": 128}
    rules = {"box_weight": number(ge=0), "hidden": number(ge=1, integer=True)}

    def __init__(self, backbone: Normalized, num_classes: int = 0, options: Mapping | None = None) -> None:
        super().__init__(backbone, num_classes, options)
        hidden = self.options["hidden"]
        self.head = nn.Sequential(nn.Linear(backbone.features_dim, hidden), nn.ReLU(), nn.Linear(hidden, 5))

    @classmethod
    def dataset(cls, specs: list[str], crops: Mapping[str, Any], seed: int) -> Windows:
        """Windows of ``specs`` at the crops' ``size``, ``context`` and ``cache``, a fraction :data:`WIDE` of the
        positives wide; FaceCrops' ``jitter`` and ``flip`` do not apply."""
        options = {k: crops[k] for k in ("size", "context", "cache") if k in crops}
        return Windows(specs, seed=seed, wide=WIDE, **options)

    def predict(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(face logits ``[N]``, box offsets ``[N, 4]``) of [0, 1] windows ``images``."""
        out = self.head(self.backbone(images))
        return out[:, 0], out[:, 1:]

    def forward(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, Parts]:
        logits, offsets = self.predict(batch["image"])
        face = batch["face"].float()
        box_loss = F.mse_loss(offsets, batch["offsets"].float(), reduction="none").sum(1)
        parts = {
            "face": F.binary_cross_entropy_with_logits(logits, face),
            "box": self.options["box_weight"] * masked_mean(box_loss, face > 0.5),
        }
        loss = sum(parts.values())
        with torch.no_grad():
            parts["face_accuracy"] = ((logits > 0).float() == face).float().mean()
        return loss, parts


def load_detector(path: str | Path) -> Detection:
    """The detector (backbone and head) of the ``detect`` checkpoint at ``path``, frozen, in eval mode."""
    saved = read_checkpoint(path)
    if saved["objective"]["name"] != "detect":
        raise CheckpointError(f"{path}: a {saved['objective']['name']!r} checkpoint, not a 'detect' one")
    detector = Detection(load_backbone(path, freeze=True), 0, saved["objective"]["kwargs"])
    detector.head.load_state_dict({k.removeprefix("head."): v for k, v in saved["objective"]["state_dict"].items()})
    return detector.requires_grad_(False).eval()
