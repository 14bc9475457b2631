"""Face crops of any data spec for pretraining: the face box with context, jittered, with its identity and domain.

Every pretraining method reads faces the same way, so one torch ``Dataset`` serves them all. A crop is the face box
grown by ``context`` on each side, moved and rescaled by up to ``jitter`` of its size (the agents see faces off
centre and at the wrong scale, so the backbones should too), then resized to ``size``. The face box travels through
the crop and the flip as a ``tv_tensors.BoundingBoxes``, so methods that regress where the face is (DANN's task head)
get it in the crop's pixels. Identity labels are renumbered ``0..n-1`` in sorted order (``identities`` keeps the
original ids); the domain label says synthetic (0) or real (1), which is what DANN's domain classifier separates.

Randomness is a pure function of ``(seed, epoch, index)``, so a run is the same with any number of DataLoader
workers, and :meth:`FaceCrops.set_epoch` draws new jitter each epoch.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as TF

from facebox.config import check_values, number
from facebox.envs.data import FaceDataset
from facebox.envs.data.record import ListDataset
from facebox.envs.data.sources import open_dataset
from facebox.envs.data.synthetic import SyntheticFaces

__all__ = ["FaceCrops", "SYNTHETIC", "REAL"]

SYNTHETIC, REAL = 0, 1


class FaceCrops(torch.utils.data.Dataset):
    """One item per face of ``spec`` (a data spec or a dataset): ``{"image": float CxHxW in [0, 1], "label":
    identity index or -1, "domain": 0 synthetic / 1 real, "box": the face box xyxy in the crop's pixels}``.

    A real set's faces are listed from its annotations (no image is decoded to count them); a synthetic set has one
    item per image, its first face, labelled -1 (its identities are not known without drawing every image).
    ``flip`` mirrors a random half of the crops (a face's identity does not change in the mirror).
    """

    def __init__(
        self,
        spec: str | FaceDataset,
        size: int = 64,
        context: float = 0.2,
        jitter: float = 0.1,
        flip: bool = True,
        seed: int = 0,
    ) -> None:
        check_values({"size": size, "context": context, "jitter": jitter}, _RULES, "FaceCrops")
        self.dataset = open_dataset(spec)
        self.size, self.context, self.jitter, self.flip, self.seed = size, float(context), float(jitter), flip, seed
        self.epoch = 0
        self.domain = SYNTHETIC if isinstance(self.dataset, SyntheticFaces) else REAL
        if isinstance(self.dataset, ListDataset):
            entries = self.dataset.entries
            self.items = [(i, k) for i, e in enumerate(entries) for k in range(len(e.boxes))]
            ids = {entries[i].identities[k] for i, k in self.items if entries[i].identities}
        else:
            self.items, ids = [(i, 0) for i in range(len(self.dataset))], set()
        self.identities = sorted(i for i in ids if i is not None)
        self._label = {identity: n for n, identity in enumerate(self.identities)}

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        image_index, face = self.items[index]
        record = self.dataset[image_index]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        x0, y0, x1, y1 = (float(v) for v in record.boxes[face])
        w, h = x1 - x0, y1 - y0
        side = max(w, h) * (1 + 2 * self.context) * (1 + rng.uniform(-self.jitter, self.jitter))
        cx = (x0 + x1) / 2 + rng.uniform(-self.jitter, self.jitter) * w
        cy = (y0 + y1) / 2 + rng.uniform(-self.jitter, self.jitter) * h
        top, left, side_px = round(cy - side / 2), round(cx - side / 2), max(1, round(side))
        image = tv_tensors.Image(torch.from_numpy(record.image).permute(2, 0, 1))
        boxes = tv_tensors.BoundingBoxes(
            [[x0, y0, x1, y1]], format="XYXY", canvas_size=(record.height, record.width), dtype=torch.float32
        )
        image, boxes = TF.crop(image, top, left, side_px, side_px), TF.crop(boxes, top, left, side_px, side_px)
        image, boxes = TF.resize(image, [self.size, self.size], antialias=True), TF.resize(boxes, [self.size] * 2)
        if self.flip and rng.random() < 0.5:
            image, boxes = TF.horizontal_flip(image), TF.horizontal_flip(boxes)
        identity = record.identities[face] if record.identities else None
        return {
            "image": image.as_subclass(torch.Tensor).float() / 255,
            "label": torch.tensor(self._label.get(identity, -1)),
            "domain": torch.tensor(self.domain),
            "box": boxes.as_subclass(torch.Tensor)[0],
        }


_RULES = {"size": number(ge=8, integer=True), "context": number(ge=0, le=2), "jitter": number(ge=0, lt=0.5)}
