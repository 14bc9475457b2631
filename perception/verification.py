"""Face verification: is this the same person? Embeddings compared by cosine, measured by LFW's protocol.

A backbone trained on some identities is only worth its embedding on people it has not seen, so it is measured on
LFW-style pairs of held-out identities (:func:`read_pairs`): each face is embedded once (:func:`embed_images`, the
crop the checkpoint was trained on, optionally averaged with its mirror), each pair scored by the cosine of its two
embeddings, and the scores judged by :func:`evaluate_pairs` — 10-fold accuracy with the threshold chosen on the other
nine folds (a threshold picked on the pairs it is scored on flatters the model), plus the threshold-free ROC AUC and
the true-accept rate at 1 % false accepts that access-control use cares about.

:class:`Verifier` is the deployed form: a face and a claimed identity in, accept or reject out, against the
identity's trained class centre (classification objectives learn one per training identity) or a template enrolled
from a few photos (the only way for people the model never trained on). The command line is :mod:`.verify`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from numbers import Integral
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F
from torchmetrics.functional.classification import binary_auroc, binary_roc
from tqdm import tqdm

from facebox.envs.data.formats.identities import _rank0_boxes
from facebox.envs.data.images import read_image
from facebox.envs.data.parsing import existing, text_lines
from facebox.perception.checkpoints import Normalized, load_backbone, read_checkpoint
from facebox.perception.data import face_crop

__all__ = [
    "FAR",
    "Pair",
    "read_pairs",
    "read_boxes",
    "embed_faces",
    "embed_crops",
    "embed_images",
    "pair_similarities",
    "VerificationResult",
    "fold_indices",
    "best_threshold",
    "evaluate_pairs",
    "UnknownIdentity",
    "Verifier",
    "plot_roc",
]

FAR = 1e-2  # the false-accept rate TAR is read at
Box = Sequence[float]


@dataclass(frozen=True)
class Pair:
    """Two images (paths relative to the set's image folder), whether they show one person, and the two identity
    labels as written in the file."""

    image_a: str
    image_b: str
    same: bool
    id_a: str
    id_b: str


def read_pairs(path: str | os.PathLike) -> list[Pair]:
    """The pairs of an LFW-style file: ``id img1 img2`` lines are same-identity pairs, ``id1 img1 id2 img2`` lines
    different ones; tab or whitespace separated, ``#`` comments, LFW's ``folds count`` line first allowed. Image
    fields are file paths (LFW's own file gives image numbers instead). Malformed lines raise naming file:line."""
    path = existing(path, "pairs file")
    lines = [(no, line) for no, line in text_lines(path) if not line.lstrip().startswith("#")]
    if lines and len(lines[0][1].split()) == 2 and all(f.isdigit() for f in lines[0][1].split()):  # LFW's "10 300"
        lines = lines[1:]
    pairs = []
    for no, line in lines:
        fields = [f.strip() for f in (line.split("\t") if "\t" in line else line.split())]
        if len(fields) not in (3, 4) or not all(fields):
            raise ValueError(
                f"{path}:{no}: expected 'id img1 img2' (same) or 'id1 img1 id2 img2' (different), got {line.strip()!r}"
            )
        if len(fields) == 3:
            pairs.append(Pair(fields[1], fields[2], True, fields[0], fields[0]))
        else:
            pairs.append(Pair(fields[1], fields[3], False, fields[0], fields[2]))
    if not pairs:
        raise ValueError(f"{path}: no pairs (only blank or '#' comment lines)")
    return pairs


def read_boxes(path: str | os.PathLike) -> dict[str, list[float] | None]:
    """Image name -> its rank-0 (largest) face box xyxy from a detector's box table, or None where it found none."""
    return {name: box for name, (box, _) in _rank0_boxes(existing(path, "face box table")).items()}


def _crop(image: np.ndarray, box: Box | None, info: Mapping) -> torch.Tensor:
    """The checkpoint's training crop of ``image`` (HxWxC or HxW uint8): ``box`` (the whole image when None) grown
    by its context, at its size, in its number of channels."""
    channels, size, width = info["shape"]
    if size != width:
        raise ValueError(f"face crops are square; the checkpoint's input is {size}x{width}")
    image = image[:, :, None] if image.ndim == 2 else image
    if channels == 1 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None]
    elif channels == 3 and image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    if box is None:
        box = (0.0, 0.0, float(image.shape[1]), float(image.shape[0]))
    return face_crop(image, box, size, info["context"])[0]


def embed_faces(
    backbone: Normalized, images: Sequence[np.ndarray], boxes: Sequence[Box | None] | None = None, flip: bool = True
) -> torch.Tensor:
    """L2-normalised N x D embeddings of decoded images (one face each, in ``boxes`` or filling the image).

    ``flip`` averages the embedding of each crop with its mirror's before normalising: a face's identity does not
    change in the mirror, so the mean cancels part of the pose and lighting asymmetry (a common, cheap test-time
    augmentation in face recognition). The backbone runs in eval mode (BatchNorm's stored statistics), restored after.
    """
    boxes = [None] * len(images) if boxes is None else boxes
    if len(boxes) != len(images):
        raise ValueError(f"{len(images)} images but {len(boxes)} boxes")
    crops = torch.stack([_crop(image, box, backbone.info) for image, box in zip(images, boxes, strict=True)])
    return embed_crops(backbone, crops, flip)


def embed_crops(backbone: Normalized, crops: torch.Tensor, flip: bool = True) -> torch.Tensor:
    """Unit embeddings of crops already in the model's input form (NxCxHxW in [0, 1]), mirror-averaged with
    ``flip``; the backbone runs in eval mode and its mode is restored after."""
    training = backbone.training
    backbone.eval()
    with torch.no_grad():
        features = backbone(crops)
        if flip:
            features = (features + backbone(crops.flip(-1))) / 2
    backbone.train(training)
    return F.normalize(features, dim=1)


def embed_images(
    backbone: Normalized,
    paths: Sequence[str | os.PathLike],
    boxes: str | os.PathLike | Mapping[str, Box | None] | None = None,
    flip: bool = True,
    batch: int = 64,
) -> torch.Tensor:
    """L2-normalised embeddings of the image files ``paths`` (:func:`embed_faces`), ``batch`` images decoded at a
    time. ``boxes`` (a box table, :func:`read_boxes`, or its mapping) is looked up by each file's name; an image it
    lists without a face, or does not list, is embedded whole, with one warning counting them (a face detector
    misses a few faces, and dropping their pairs would change the benchmark)."""
    table = read_boxes(boxes) if isinstance(boxes, str | os.PathLike) else boxes
    whole, out = [], []
    with tqdm(total=len(paths), desc="embedding", unit="image") as bar:
        for start in range(0, len(paths), batch):
            chunk = paths[start : start + batch]
            chunk_boxes = [None if table is None else table.get(Path(p).name) for p in chunk]
            if table is not None:
                whole += [Path(p).name for p, box in zip(chunk, chunk_boxes, strict=True) if box is None]
            out.append(embed_faces(backbone, [read_image(p) for p in chunk], chunk_boxes, flip))
            bar.update(len(chunk))
    if whole:
        shown = ", ".join(whole[:3]) + (", ..." if len(whole) > 3 else "")
        warnings.warn(f"{len(whole)} images without a face box embedded whole ({shown})", stacklevel=2)
    return torch.cat(out) if out else torch.zeros(0, backbone.features_dim)


def pair_similarities(
    backbone: Normalized,
    pairs: Sequence[Pair],
    images: str | os.PathLike,
    boxes: str | os.PathLike | Mapping[str, Box | None] | None = None,
    flip: bool = True,
) -> np.ndarray:
    """Cosine similarity of each pair's two faces, every image (a path relative to ``images``) embedded once."""
    names = list(dict.fromkeys(name for pair in pairs for name in (pair.image_a, pair.image_b)))
    embeddings = embed_images(backbone, [Path(images) / name for name in names], boxes, flip)
    row = {name: k for k, name in enumerate(names)}
    a = embeddings[[row[pair.image_a] for pair in pairs]]
    b = embeddings[[row[pair.image_b] for pair in pairs]]
    return (a * b).sum(dim=1).numpy()


@dataclass(frozen=True)
class VerificationResult:
    """What :func:`evaluate_pairs` measured. ``accuracy`` is the mean over folds (``accuracy_std`` their population
    standard deviation, as LFW results are reported); ``threshold`` the mean of the folds' thresholds (a pair is
    "same" when its similarity is above it); ``auc``, ``fpr``/``tpr`` and ``tar_at_far`` are over all pairs."""

    pairs: int
    same: int
    accuracy: float
    accuracy_std: float
    fold_accuracies: tuple[float, ...]
    threshold: float
    fold_thresholds: tuple[float, ...]
    auc: float
    tar_at_far: float
    far: float
    fpr: tuple[float, ...]
    tpr: tuple[float, ...]

    def to_dict(self) -> dict:
        return asdict(self)


def fold_indices(same: np.ndarray, folds: int = 10, seed: int = 0) -> list[np.ndarray]:
    """Pair indices split into ``folds`` contiguous blocks of a fixed interleaving, so that every fold holds both
    kinds of pair in about their overall proportion (an LFW-style file lists all same pairs first; cutting it as is
    would give folds of one kind). Each kind is shuffled with ``np.random.default_rng(seed)``, then the two are merged
    by relative rank (the i-th of n pairs of a kind at (i + 1/2)/n), then cut."""
    same = np.asarray(same, dtype=bool)
    rng = np.random.default_rng(seed)
    positive, negative = rng.permutation(np.flatnonzero(same)), rng.permutation(np.flatnonzero(~same))
    if min(len(positive), len(negative)) < folds:
        raise ValueError(
            f"{folds} folds need at least {folds} pairs of each kind, got {len(positive)} same and "
            f"{len(negative)} different"
        )
    rank = np.concatenate(
        [(np.arange(len(positive)) + 0.5) / len(positive), (np.arange(len(negative)) + 0.5) / len(negative)]
    )
    order = np.concatenate([positive, negative])[np.argsort(rank, kind="stable")]
    return np.array_split(order, folds)


def best_threshold(similarities: np.ndarray, same: np.ndarray) -> float:
    """The threshold with the highest accuracy on these pairs ("same" when above it): the midpoints between
    consecutive distinct similarities are tried, and the two ends (all "same", all "different"); ties go lowest."""
    similarities, same = np.asarray(similarities, dtype=np.float64), np.asarray(same, dtype=bool)
    values = np.unique(similarities)
    candidates = np.concatenate([[np.nextafter(values[0], -np.inf)], (values[:-1] + values[1:]) / 2, values[-1:]])
    positive, negative = np.sort(similarities[same]), np.sort(similarities[~same])
    correct = (
        len(positive) - np.searchsorted(positive, candidates, "right") + np.searchsorted(negative, candidates, "right")
    )
    return float(candidates[np.argmax(correct)])


def evaluate_pairs(similarities: Sequence[float], same: Sequence[bool], folds: int = 10) -> VerificationResult:
    """LFW's protocol on pair similarities: for each of ``folds`` folds (:func:`fold_indices`) the threshold is
    chosen on the other folds (:func:`best_threshold`) and the accuracy measured on it, so no fold is scored with a
    threshold its own pairs chose. ROC, AUC and TAR at FAR = 1e-2 (the largest true-accept rate whose false-accept
    rate is at most 1e-2) need no threshold and use all pairs (torchmetrics' ``binary_roc``/``binary_auroc``)."""
    scores, labels = np.asarray(similarities, dtype=np.float64).ravel(), np.asarray(same, dtype=bool).ravel()
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} similarities but {len(labels)} same/different labels")
    if not np.isfinite(scores).all():
        raise ValueError(f"{np.count_nonzero(~np.isfinite(scores))} similarities are not finite")
    accuracies, thresholds = [], []
    for test in fold_indices(labels, folds):
        train = np.ones(len(scores), dtype=bool)
        train[test] = False
        threshold = best_threshold(scores[train], labels[train])
        thresholds.append(threshold)
        accuracies.append(float(np.mean((scores[test] > threshold) == labels[test])))
    # torchmetrics passes scores outside [0, 1] through a sigmoid, which saturates; an affine map keeps them exact.
    unit = torch.from_numpy((scores - scores.min()) / max(scores.max() - scores.min(), np.finfo(float).tiny))
    target = torch.from_numpy(labels).long()
    fpr, tpr, _ = (t.double().numpy() for t in binary_roc(unit, target))
    negatives = np.count_nonzero(~labels)
    false_accepts = np.rint(fpr * negatives)  # counts, since float32 rates can land a hair above k / n
    return VerificationResult(
        pairs=len(scores),
        same=int(labels.sum()),
        accuracy=float(np.mean(accuracies)),
        accuracy_std=float(np.std(accuracies)),
        fold_accuracies=tuple(accuracies),
        threshold=float(np.mean(thresholds)),
        fold_thresholds=tuple(thresholds),
        auc=float(binary_auroc(unit, target)),
        tar_at_far=float(tpr[false_accepts <= FAR * negatives + 1e-9].max()),
        far=FAR,
        fpr=tuple(fpr.tolist()),
        tpr=tuple(tpr.tolist()),
    )


class UnknownIdentity(KeyError):
    """A claimed identity the verifier has neither enrolled nor trained on (or an id several sources share)."""

    def __str__(self) -> str:  # KeyError's own would print the message quoted, as a key
        return str(self.args[0])


def _key(identity: Hashable | Sequence[int]) -> Hashable:
    """Identities as looked up: ``(source, id)`` pairs (tuple or list) as int tuples, ints as int, names as given."""
    if isinstance(identity, tuple | list):
        return tuple(int(v) for v in identity)
    return int(identity) if isinstance(identity, Integral) else identity


def _image(image: np.ndarray | str | os.PathLike) -> np.ndarray:
    return read_image(image) if isinstance(image, str | os.PathLike) else np.asarray(image)


class Verifier:
    """Accept a face as a claimed identity when the cosine of its embedding with the identity's template is above
    ``threshold``. Templates are enrolled (:meth:`enroll`) or the trained class centres, row i of ``centres`` being
    ``identities[i]`` = ``(source, original id)``; enrolled ones take precedence. A trained identity is claimed as
    ``(source, id)`` or as its id alone when no other source has that id."""

    def __init__(
        self,
        backbone: Normalized,
        threshold: float,
        centres: torch.Tensor | None = None,
        identities: Sequence[Sequence[int]] | None = None,
        flip: bool = True,
    ) -> None:
        self.backbone, self.threshold, self.flip = backbone, float(threshold), flip
        self.templates: dict[Hashable, torch.Tensor] = {}
        self.centres = None if centres is None else F.normalize(torch.as_tensor(centres, dtype=torch.float32), dim=1)
        keys = [_key(pair) for pair in identities or ()]
        if len(keys) != (0 if self.centres is None else len(self.centres)):
            raise ValueError(f"{len(keys)} identities for {0 if centres is None else len(centres)} centres")
        self.rows = {key: row for row, key in enumerate(keys)}
        self.sources_of: dict[int, list[int]] = {}
        for source, original in keys:
            self.sources_of.setdefault(original, []).append(source)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, threshold: float, flip: bool = True) -> Verifier:
        """The checkpoint's backbone and, for a classification objective, its class centres (a metric objective has
        none: enroll every identity). Softmax's bias is not used: a verifier compares directions."""
        objective = read_checkpoint(path)["objective"]
        centres = objective.get("state_dict", {}).get("centres")
        identities = objective.get("identities") if centres is not None else None
        return cls(load_backbone(path), threshold, centres, identities, flip)

    def template(self, identity: Hashable | Sequence[int]) -> torch.Tensor:
        """The unit template ``identity`` is compared with; ``UnknownIdentity`` naming it when there is none."""
        key = _key(identity)
        if key in self.templates:
            return self.templates[key]
        if isinstance(key, int) and len(self.sources_of.get(key, ())) > 1:
            pairs = [(source, key) for source in self.sources_of[key]]
            raise UnknownIdentity(f"identity {key} is trained in several sources: claim one of {pairs}")
        if isinstance(key, int) and key in self.sources_of:
            key = (self.sources_of[key][0], key)
        if key in self.rows:
            return self.centres[self.rows[key]]
        raise UnknownIdentity(
            f"identity {identity!r} is neither enrolled ({len(self.templates)} are) nor trained "
            f"({len(self.rows)} class centres)"
        )

    def enroll(
        self,
        identity: Hashable | Sequence[int],
        images: Sequence[np.ndarray | str | os.PathLike],
        boxes: Sequence[Box | None] | None = None,
    ) -> torch.Tensor:
        """Enroll ``identity`` from images of it (arrays or files): the renormalised mean of their unit embeddings,
        so that each photo weighs the same whatever its embedding's norm."""
        if not images:
            raise ValueError(f"enrolling {identity!r} needs at least one image")
        embeddings = embed_faces(self.backbone, [_image(image) for image in images], boxes, self.flip)
        self.templates[_key(identity)] = F.normalize(embeddings.mean(dim=0), dim=0)
        return self.templates[_key(identity)]

    def verify(
        self, image: np.ndarray | str | os.PathLike, claimed_identity: Hashable | Sequence[int], box: Box | None = None
    ) -> tuple[bool, float]:
        """(accepted, cosine) for the face in ``box`` of ``image`` (the whole image when None) claiming to be
        ``claimed_identity``."""
        template = self.template(claimed_identity)
        cosine = float(embed_faces(self.backbone, [_image(image)], [box], self.flip)[0] @ template)
        return cosine > self.threshold, cosine

    def calibrate(self, similarities: Sequence[float], same: Sequence[bool], folds: int = 10) -> VerificationResult:
        """Set the threshold from labelled pair similarities: the mean of the folds' thresholds of
        :func:`evaluate_pairs` (whose accuracy then estimates this threshold's on new pairs)."""
        result = evaluate_pairs(similarities, same, folds)
        self.threshold = result.threshold
        return result


def plot_roc(curves: Mapping[str, tuple[Sequence[float], Sequence[float], float]], path: str | os.PathLike) -> Path:
    """ROC curves ``name -> (fpr, tpr, auc)`` in one PNG at ``path``, FAR on a log axis (the low-FAR end is where
    verification is used) with a line at FAR = 1e-2; FAR 0 is drawn at the axis' left edge."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    lowest = min((min((f for f in fpr if f > 0), default=FAR) for fpr, _, _ in curves.values()), default=FAR)
    left = min(FAR / 10, lowest)
    figure = Figure(figsize=(5.5, 4.5))
    axes = figure.add_subplot()
    for name, (fpr, tpr, auc) in curves.items():
        axes.plot(np.clip(fpr, left, 1), tpr, label=f"{name} (AUC {auc:.3f})")
    axes.axvline(FAR, color="grey", linestyle="--", linewidth=1, label=f"FAR = {FAR:g}")
    axes.set(xscale="log", xlim=(left, 1), ylim=(0, 1.01), xlabel="false accept rate", ylabel="true accept rate")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path
