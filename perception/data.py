"""Face crops of any data specs for pretraining: the face box with context, jittered, with its identity and domain.

Every pretraining method reads faces the same way, so one torch ``Dataset`` serves them all. A crop is the face box
grown by ``context`` on each side, moved and rescaled by up to ``jitter`` of its size (the agents see faces off
centre and at the wrong scale, so the backbones should too), then resized to ``size``. The face box travels through
the crop and the flip as a ``tv_tensors.BoundingBoxes``, so methods that regress where the face is (DANN's task head)
get it in the crop's pixels. Several sources make one set: identities are ``(source, id)`` pairs (two sources are
taken to hold different people), renumbered ``0..n-1`` in sorted order (``identities`` keeps the pairs); the domain
label says synthetic (0) or real (1), which is what DANN's domain classifier separates.

Randomness is a pure function of ``(seed, epoch, index)``, so a run is the same with any number of DataLoader
workers, and :meth:`FaceCrops.set_epoch` draws new jitter each epoch. ``cache`` keeps each face's neighbourhood,
downscaled to twice the crop size, after its first read: an epoch then decodes no JPEG (a CelebA photo costs
milliseconds to decode, about what a small backbone's training step on the crop costs).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as TF

from facebox.config import check_values, number
from facebox.envs.data import FaceDataset
from facebox.envs.data.record import ListDataset
from facebox.envs.data.sources import open_dataset
from facebox.envs.data.synthetic import SyntheticFaces

__all__ = ["FaceCrops", "face_crop", "SYNTHETIC", "REAL"]

SYNTHETIC, REAL = 0, 1


def face_crop(
    image: np.ndarray | torch.Tensor,
    box: Sequence[float],
    size: int,
    context: float = 0.2,
    shift: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
    flip: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The square crop around ``box`` (xyxy in ``image``'s pixels; HxWxC uint8 array or CxHxW uint8 tensor) of side
    ``max(w, h)·(1 + 2·context)·scale``, centred ``shift·(w, h)`` off the box centre, resized to ``size`` and
    optionally mirrored: (float CxSxS in [0, 1], the box xyxy in the crop's pixels). Outside the image is black."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = x1 - x0, y1 - y0
    side = max(w, h) * (1 + 2 * context) * scale
    cx, cy = (x0 + x1) / 2 + shift[0] * w, (y0 + y1) / 2 + shift[1] * h
    top, left, side_px = round(cy - side / 2), round(cx - side / 2), max(1, round(side))
    pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1) if isinstance(image, np.ndarray) else image
    pixels = tv_tensors.Image(pixels)
    boxes = tv_tensors.BoundingBoxes(
        [[x0, y0, x1, y1]], format="XYXY", canvas_size=tuple(pixels.shape[-2:]), dtype=torch.float32
    )
    pixels, boxes = TF.crop(pixels, top, left, side_px, side_px), TF.crop(boxes, top, left, side_px, side_px)
    pixels, boxes = TF.resize(pixels, [size, size], antialias=True), TF.resize(boxes, [size, size])
    if flip:
        pixels, boxes = TF.horizontal_flip(pixels), TF.horizontal_flip(boxes)
    return pixels.as_subclass(torch.Tensor).float() / 255, boxes.as_subclass(torch.Tensor)[0]


class FaceCrops(torch.utils.data.Dataset):
    """One item per face of ``specs`` (data specs or datasets, one or several): ``{"image": float CxHxW in [0, 1],
    "label": identity index or -1, "domain": 0 synthetic / 1 real, "box": the face box xyxy in the crop's pixels}``.

    A real set's faces are listed from its annotations (no image is decoded to count them); a synthetic set has one
    item per image, its first face, labelled -1 (its identities are not known without drawing every image).
    ``flip`` mirrors a random half of the crops (a face's identity does not change in the mirror).
    """

    def __init__(
        self,
        specs: str | FaceDataset | Sequence[str | FaceDataset],
        size: int = 64,
        context: float = 0.2,
        jitter: float = 0.1,
        flip: bool = True,
        seed: int = 0,
        cache: bool = False,
    ) -> None:
        check_values({"size": size, "context": context, "jitter": jitter}, _RULES, "FaceCrops")
        specs = [specs] if isinstance(specs, str | FaceDataset) else list(specs)
        self.datasets = [open_dataset(spec) for spec in specs]
        self.sources = [spec if isinstance(spec, str) else getattr(spec, "name", repr(spec)) for spec in specs]
        self.size, self.context, self.jitter, self.flip, self.seed = size, float(context), float(jitter), flip, seed
        self.epoch, self.cache = 0, {} if cache else None
        self.domains = [SYNTHETIC if isinstance(d, SyntheticFaces) else REAL for d in self.datasets]
        self.items: list[tuple[int, int, int]] = []  # (source, image, face)
        ids: set[tuple[int, int]] = set()
        for s, dataset in enumerate(self.datasets):
            if isinstance(dataset, ListDataset):
                for i, e in enumerate(dataset.entries):
                    self.items += [(s, i, k) for k in range(len(e.boxes))]
                    ids.update((s, identity) for identity in e.identities if identity is not None)
            else:
                self.items += [(s, i, 0) for i in range(len(dataset))]
        self.identities = sorted(ids)
        self._label = {identity: n for n, identity in enumerate(self.identities)}

    @property
    def domain(self) -> int:
        """The domain of a single-domain set (what most callers have)."""
        if len(set(self.domains)) != 1:
            raise ValueError(f"FaceCrops over {self.sources} mixes domains; read ``domains`` per source")
        return self.domains[0]

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def identity(self, index: int) -> int:
        """The label of item ``index`` (-1 without identity), from the annotations alone: what samplers group by."""
        source, image, face = self.items[index]
        dataset = self.datasets[source]
        ids = dataset.entries[image].identities if isinstance(dataset, ListDataset) else ()
        return self._label.get((source, ids[face]), -1) if ids and ids[face] is not None else -1

    def _region(self, index: int) -> tuple[np.ndarray | torch.Tensor, list[float]]:
        """The image the crop is cut from and the face box in it: the whole image, or from the cache the face's
        neighbourhood (every crop the jitter can draw) at twice the crop size."""
        if self.cache is not None and index in self.cache:
            return self.cache[index]
        source, image, face = self.items[index]
        record = self.datasets[source][image]
        region = record.image, [float(v) for v in record.boxes[face]]
        if self.cache is not None:
            reach = (1 + self.jitter) * (1 + 2 * self.jitter / (1 + 2 * self.context))
            pixels, box = face_crop(*region, 2 * self.size, self.context, scale=reach)
            region = (pixels * 255).round().to(torch.uint8), box.tolist()
            self.cache[index] = region
        return region

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        scale = 1 + rng.uniform(-self.jitter, self.jitter)
        shift = (rng.uniform(-self.jitter, self.jitter), rng.uniform(-self.jitter, self.jitter))
        flip = self.flip and rng.random() < 0.5
        image, box = face_crop(*self._region(index), self.size, self.context, shift, scale, flip)
        return {
            "image": image,
            "label": torch.tensor(self.identity(index)),
            "domain": torch.tensor(self.domains[self.items[index][0]]),
            "box": box,
        }


_RULES = {"size": number(ge=8, integer=True), "context": number(ge=0, le=2), "jitter": number(ge=0, lt=0.5)}
