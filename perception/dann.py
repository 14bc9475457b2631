"""DANN (Ganin & Lempitsky, ICML 2015): features for face localization learnt on labelled synthetic faces and
adapted, without their labels, to real photos.

The localization agent looks at a window of an image and must say whether a face is there and how to move the
window onto it. :class:`Windows` serves exactly that: square windows around jittered faces (positives) and away from
every face (negatives), each with the face/no-face label and the face box relative to the window. Synthetic sources
are the labelled source domain; real ones the unlabelled target (their labels travel with the items for evaluation,
and ``labelled`` masks them out of the training loss). :class:`DANN` trains a task head (face logit and box offsets)
on the labelled items and a domain classifier on all of them behind the gradient-reversal layer, so the features
learn to localize faces while making synthetic and real windows indistinguishable, which is what lets a head trained
only on synthetic labels work on real photos (the paper's Section 3). ``adapt: false`` is the paper's "source only"
baseline with the domain classifier still measured the same way.

Box offsets of a face box ``(cx, cy, w, h)`` in a square window of centre ``(wx, wy)`` and side ``s``:
``((cx - wx)/s, (cy - wy)/s, log(w/s), log(h/s))``. The localization agent's continuous action moves the centre in
units of its box's width/height and resizes by a multiple of them (``envs/actions.py``), so the offsets divided by
``alpha`` are the moves that put the window's centre on the face, and the log sizes say how much to shrink or grow
it (additive in the log, like the agent's repeated relative steps); negatives carry zeros.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torchvision.ops import box_iou

from facebox.config import check_values, instance_of, number, one_of
from facebox.envs.data import FaceDataset
from facebox.envs.data.record import ListDataset
from facebox.envs.data.sources import open_dataset
from facebox.envs.data.synthetic import SyntheticFaces
from facebox.perception.checkpoints import Normalized
from facebox.perception.data import REAL, SYNTHETIC, face_crop
from facebox.perception.objectives import Objective, Parts
from facebox.perception.reversal import dann_lambda, reverse_gradient

__all__ = [
    "Windows",
    "DANN",
    "evaluate_dann",
    "encode_offsets",
    "decode_offsets",
    "square_window",
    "masked_mean",
    "JITTER",
    "NEGATIVE_IOU",
]

JITTER = 0.3  # positives move and rescale by up to this much of the face, so the offsets to learn vary
NEGATIVE_IOU = 0.3  # a negative window overlaps every face of its image by less than this
SPLIT_SEED = 20150706  # the held-out split of a real source depends on its size alone, never on ``seed``
_TRIES = 64


def encode_offsets(boxes: torch.Tensor, windows: torch.Tensor) -> torch.Tensor:
    """Offsets ``[..., 4]`` of xyxy ``boxes`` in square xyxy ``windows`` (see the module docstring)."""
    side = windows[..., 2] - windows[..., 0]
    centre = (boxes[..., :2] + boxes[..., 2:]) / 2 - (windows[..., :2] + windows[..., 2:]) / 2
    size = boxes[..., 2:] - boxes[..., :2]
    return torch.cat([centre / side[..., None], torch.log(size / side[..., None])], dim=-1)


def decode_offsets(offsets: torch.Tensor, windows: torch.Tensor) -> torch.Tensor:
    """The xyxy boxes that ``offsets`` describe in square xyxy ``windows``: the inverse of :func:`encode_offsets`."""
    side = (windows[..., 2] - windows[..., 0])[..., None]
    centre = (windows[..., :2] + windows[..., 2:]) / 2 + offsets[..., :2] * side
    half = torch.exp(offsets[..., 2:]) * side / 2
    return torch.cat([centre - half, centre + half], dim=-1)


def square_window(cx: float, cy: float, side: float) -> torch.Tensor:
    """The square of ``side`` centred at ``(cx, cy)`` on whole pixels, exactly the crop :func:`face_crop` cuts."""
    left, top, side = round(cx - side / 2), round(cy - side / 2), max(1, round(side))
    return torch.tensor([left, top, left + side, top + side], dtype=torch.float32)


class Windows(torch.utils.data.Dataset):
    """Square windows of ``specs`` for DANN: ``{"image": float CxSxS in [0, 1], "face": 1. or 0., "offsets": the
    face box in the window (zeros for a negative), "domain": 0 synthetic / 1 real, "labelled": True for synthetic,
    "window": the window xyxy in the source image's pixels}``.

    One positive per face (a real set's faces come from its annotations; a synthetic image gives its first face, as
    in :class:`FaceCrops`): the face box grown by ``context`` per side, its centre moved by up to ``JITTER`` of the
    face's width/height and its side scaled by up to ``1 ± JITTER``. Negatives make a fraction ``negatives`` of each
    source's items, spread over its images in turn: squares of a face's window size (jittered alike) placed
    uniformly in the image with IoU < ``NEGATIVE_IOU`` against every face; in a crowded image a square of a quarter
    of the smallest face's area (IoU at most 1/4 wherever it lies) when the similar sizes keep hitting faces.

    ``wide`` (0 for DANN) draws that fraction of the positives wide instead, for a detector that starts from the
    whole image (:mod:`facebox.perception.detection`): a side log-uniform from the face's window up to the image's
    long side (so every scale between is seen as often), placed uniformly where it holds the face and stays inside
    the image (or covers it); its target is the largest face it holds, so a window with several faces has one answer.

    ``part`` ("train" or "held_out") splits each real source by image: image ``i`` is held out when it is among the
    first ``round(hold_out · n)`` of a permutation of its ``n`` images seeded by ``SPLIT_SEED`` (so the split is the
    same for every ``seed``, and a larger ``hold_out`` only adds images). Synthetic sources are endless and not
    split: a held-out synthetic set is another generator seed (``synthetic?seed=4``). Randomness is a pure function
    of ``(seed, epoch, index)``; :meth:`set_epoch` draws new windows. ``cache`` keeps every decoded (or drawn) image
    after its first use: a window is a cheap crop, the decode or the synthesis of its image is not (~500 MB for the
    shared face-mask and pet photos with 2,000 synthetic images).
    """

    def __init__(
        self,
        specs: str | FaceDataset | Sequence[str | FaceDataset],
        size: int = 32,
        context: float = 0.2,
        negatives: float = 0.5,
        seed: int = 0,
        part: str = "train",
        hold_out: float = 0.2,
        cache: bool = True,
        wide: float = 0.0,
    ) -> None:
        options = {"size": size, "context": context, "negatives": negatives, "part": part, "hold_out": hold_out}
        check_values({**options, "wide": wide}, _RULES, "Windows")
        specs = [specs] if isinstance(specs, str | FaceDataset) else list(specs)
        self.datasets = [open_dataset(spec) for spec in specs]
        self.domains = [SYNTHETIC if isinstance(d, SyntheticFaces) else REAL for d in self.datasets]
        self.size, self.context, self.seed, self.part, self.epoch = size, float(context), seed, part, 0
        self.wide = float(wide)
        self.cache: dict[tuple[int, int], object] | None = {} if cache else None
        self.items: list[tuple[int, int, int]] = []  # (source, image, face or -1 for a negative)
        for s, dataset in enumerate(self.datasets):
            images = self._part_images(len(dataset), self.domains[s], hold_out)
            if isinstance(dataset, ListDataset):
                faces = {i: len(dataset.entries[i].boxes) for i in images}
            else:
                faces = dict.fromkeys(images, 1)
            positives = [(s, i, k) for i in images for k in range(faces[i])]
            with_faces = [i for i in images if faces[i]]
            count = round(len(positives) * negatives / (1 - negatives)) if with_faces else 0
            self.items += positives + [(s, with_faces[n % len(with_faces)], -1) for n in range(count)]

    def _part_images(self, n: int, domain: int, hold_out: float) -> list[int]:
        if domain == SYNTHETIC:
            return list(range(n))
        held = set(np.random.default_rng(SPLIT_SEED).permutation(n)[: round(hold_out * n)].tolist())
        return [i for i in range(n) if (i in held) == (self.part == "held_out")]

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _positive(self, rng: np.random.Generator, face: torch.Tensor) -> torch.Tensor:
        x0, y0, x1, y1 = face.tolist()
        w, h = x1 - x0, y1 - y0
        side = max(w, h) * (1 + 2 * self.context) * (1 + rng.uniform(-JITTER, JITTER))
        shift = rng.uniform(-JITTER, JITTER, 2)
        return square_window((x0 + x1) / 2 + shift[0] * w, (y0 + y1) / 2 + shift[1] * h, side)

    def _wide(self, rng: np.random.Generator, face: torch.Tensor, width: int, height: int) -> torch.Tensor:
        x0, y0, x1, y1 = face.tolist()
        low = max(x1 - x0, y1 - y0) * (1 + 2 * self.context)
        side = math.exp(rng.uniform(math.log(low), math.log(max(low, width, height))))
        # the left (top) edge keeps the face inside and the window inside the image, or covering it when larger
        left = rng.uniform(max(x1 - side, min(0, width - side)), min(x0, max(0, width - side)))
        top = rng.uniform(max(y1 - side, min(0, height - side)), min(y0, max(0, height - side)))
        return square_window(left + side / 2, top + side / 2, side)

    def _negative(self, rng: np.random.Generator, faces: torch.Tensor, width: int, height: int) -> torch.Tensor:
        sizes = faces[:, 2:] - faces[:, :2]
        windows = sizes.max(1).values * (1 + 2 * self.context)
        quarter = float(sizes.prod(1).min().sqrt()) / 2
        for attempt in range(_TRIES):
            if attempt < _TRIES // 2:
                side = float(windows[rng.integers(len(windows))]) * (1 + rng.uniform(-JITTER, JITTER))
            else:
                side = quarter
            side = min(side, width, height)
            window = square_window(
                rng.uniform(side / 2, width - side / 2), rng.uniform(side / 2, height - side / 2), side
            )
            if box_iou(window[None], faces).max() < NEGATIVE_IOU:
                return window
        raise ValueError(f"no window with IoU < {NEGATIVE_IOU} against every face in {_TRIES} tries")

    def _record(self, source: int, image: int):
        if self.cache is None:
            return self.datasets[source][image]
        if (source, image) not in self.cache:
            self.cache[source, image] = self.datasets[source][image]
        return self.cache[source, image]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        source, image, face = self.items[index]
        record = self._record(source, image)
        faces = torch.from_numpy(record.boxes)
        if face >= 0 and self.wide and rng.random() < self.wide:
            window = self._wide(rng, faces[face], record.width, record.height)
            inside = ((faces[:, :2] >= window[:2]) & (faces[:, 2:] <= window[2:])).all(1)
            inside[face] = True  # held by construction, up to the window's rounding to whole pixels
            areas = (faces[:, 2:] - faces[:, :2]).prod(1).where(inside, torch.tensor(-1.0))
            offsets = encode_offsets(faces[int(areas.argmax())], window)
        elif face >= 0:
            window = self._positive(rng, faces[face])
            offsets = encode_offsets(faces[face], window)
        else:
            window = self._negative(rng, faces, record.width, record.height)
            offsets = torch.zeros(4)
        pixels, _ = face_crop(record.image, window.tolist(), self.size, context=0.0)
        return {
            "image": pixels,
            "face": torch.tensor(float(face >= 0)),
            "offsets": offsets,
            "domain": torch.tensor(self.domains[source]),
            "labelled": torch.tensor(self.domains[source] == SYNTHETIC),
            "window": window,
        }


_RULES = {
    "size": number(ge=8, integer=True),
    "context": number(ge=0, le=2),
    "negatives": number(ge=0, lt=1),
    "part": one_of("train", "held_out"),
    "hold_out": number(ge=0, lt=1),
    "wide": number(ge=0, le=1),
}


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of ``values[mask]``, 0 when the mask is empty (a batch without labelled items teaches no task)."""
    return values[mask].sum() / mask.sum().clamp(min=1)


class DANN(Objective):
    """The task head (``Linear(D, 5)``: face logit and the 4 box offsets) and a domain classifier (``D → hidden →
    1``) on one backbone. The task loss is the face's binary cross-entropy plus ``box_weight`` times the smooth-L1
    offsets of the faces (summed over the 4 offsets, as Fast R-CNN's box loss), on labelled items only; the domain
    loss is the binary cross-entropy of synthetic vs real on every item. ``adapt: true`` puts the reversal layer
    between the features and the domain classifier with ``λ = lambda_max · dann_lambda(progress)``: the paper's
    schedule, which keeps the domain gradients (noise while the classifier is untrained) away from the features
    early on. ``adapt: false`` feeds the classifier detached features: it still learns, and its accuracy says how
    separable the source-only features are. ``num_classes`` is unused (the trainer passes the number of identities,
    which windows do not have). The parts ``face``, ``box`` (already weighted) and ``domain`` add up to the loss.
    """

    defaults = {"adapt": True, "lambda_max": 1.0, "box_weight": 1.0, "hidden": 64}
    rules = {
        "adapt": instance_of(bool),
        "lambda_max": number(ge=0),
        "box_weight": number(ge=0),
        "hidden": number(ge=1, integer=True),
    }
    sampler = "shuffle"

    def __init__(self, backbone: Normalized, num_classes: int = 0, options: Mapping | None = None) -> None:
        super().__init__(backbone, num_classes, options)
        dim, hidden = backbone.features_dim, self.options["hidden"]
        self.task_head = nn.Linear(dim, 5)
        self.domain_classifier = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    @classmethod
    def dataset(cls, specs: list[str], crops: Mapping[str, Any], seed: int) -> Windows:
        """Training windows of ``specs`` at the crops' ``size``, ``context`` and ``cache``; FaceCrops' ``jitter``
        and ``flip`` do not apply (windows jitter by ``JITTER`` so the offsets vary)."""
        return Windows(specs, seed=seed, **{k: crops[k] for k in ("size", "context", "cache") if k in crops})

    @property
    def lam(self) -> float:
        return self.options["lambda_max"] * dann_lambda(self.progress)

    def schedule(self) -> dict[str, float]:
        return {"lam": self.lam}

    def forward(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, Parts]:
        features = self.backbone(batch["image"])
        out = self.task_head(features)
        labelled, face = batch["labelled"].bool(), batch["face"].float()
        positive = labelled & (face > 0.5)
        face_loss = F.binary_cross_entropy_with_logits(out[:, 0], face, reduction="none")
        box_loss = F.smooth_l1_loss(out[:, 1:], batch["offsets"].float(), reduction="none").sum(1)
        shared = reverse_gradient(features, self.lam) if self.options["adapt"] else features.detach()
        domain_logits = self.domain_classifier(shared).squeeze(1)
        domain = batch["domain"].float()
        parts = {
            "face": masked_mean(face_loss, labelled),
            "box": self.options["box_weight"] * masked_mean(box_loss, positive),
            "domain": F.binary_cross_entropy_with_logits(domain_logits, domain),
        }
        loss = sum(parts.values())
        with torch.no_grad():
            parts["domain_accuracy"] = ((domain_logits > 0).float() == domain).float().mean()
            parts["face_accuracy"] = ((out[labelled, 0] > 0).float() == face[labelled]).float().mean()
        return loss, parts


_UNIT = torch.tensor([0.0, 0.0, 1.0, 1.0])


def evaluate_dann(objective: DANN, dataset: torch.utils.data.Dataset, batch: int = 128) -> dict[str, float]:
    """What adaptation is for, measured on ``dataset`` (say held-out real windows with synthetic ones), in eval
    mode: ``domain_accuracy`` of the domain classifier, balanced (the mean of its accuracy on each domain present,
    so a set with more real than synthetic windows does not reward calling everything real); ``face_accuracy``
    (face or not) on the real windows; ``box_iou``, the mean IoU of the decoded predicted box with the true one on
    the real faces. A metric without items is NaN."""
    if len(dataset) == 0:
        raise ValueError("evaluate_dann: the dataset has no windows")
    training = objective.training
    objective.eval()
    domain_hits, domains, face_hits, ious = [], [], [], []
    with torch.no_grad():
        for chunk in torch.utils.data.DataLoader(dataset, batch_size=batch):
            features = objective.backbone(chunk["image"])
            out = objective.task_head(features)
            domain_hits.append((objective.domain_classifier(features).squeeze(1) > 0).long() == chunk["domain"])
            domains.append(chunk["domain"])
            real = chunk["domain"] == REAL
            face_hits.append((out[real, 0] > 0).float() == chunk["face"][real].float())
            faces = real & (chunk["face"] > 0.5)
            predicted, true = decode_offsets(out[faces, 1:], _UNIT), decode_offsets(chunk["offsets"][faces], _UNIT)
            ious.append(box_iou(predicted, true).diagonal())
    objective.train(training)
    domain_hits, domains = torch.cat(domain_hits).float(), torch.cat(domains)
    per_domain = [domain_hits[domains == d].mean() for d in (SYNTHETIC, REAL) if (domains == d).any()]
    return {
        "domain_accuracy": torch.stack(per_domain).mean().item() if per_domain else math.nan,
        "face_accuracy": torch.cat(face_hits).float().mean().item(),
        "box_iou": torch.cat(ious).mean().item(),
    }
