"""The one record every face source produces, the one box check, and the dataset protocol.

Every loader (synthetic, WIDER, VOC, COCO, ...) maps its own conventions onto :class:`FaceImage`, so the
environments never see a file format: RGB ``uint8`` pixels and ``float32`` xyxy pixel boxes, where ``x2``/``y2``
are the right/bottom *edges* (a box covering pixel columns 0..9 is ``x1=0, x2=10``). Still images and video
sequences are served by the same :class:`Dataset` protocol, so sampling code is written once. Image files are
checked and decoded by :mod:`.images`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from facebox.envs.data.images import read_image

__all__ = [
    "KINDS",
    "Dataset",
    "Entry",
    "FaceDataset",
    "FaceImage",
    "ListDataset",
    "Size",
    "validate_boxes",
]

KINDS = ("human", "animal")
Size = tuple[int, int]  # (width, height) of an image
T = TypeVar("T")


@dataclass(frozen=True)
class FaceImage:
    """One still image and its annotated faces.

    ``kinds[i]`` / ``identities[i]`` describe face ``i`` and may be ``None`` when the source does not say.
    ``attributes`` keeps per-face source columns that have no common meaning (WIDER's blur/occlusion flags,
    ...), each an array of length N, so that nothing a dataset annotates is lost.
    """

    image: np.ndarray
    boxes: np.ndarray
    kinds: tuple[str | None, ...] = ()
    identities: tuple[int | None, ...] = ()
    source: str = ""
    attributes: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        img = self.image
        if not (isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3):
            got = f"{getattr(img, 'dtype', type(img))} {getattr(img, 'shape', '')}"
            raise ValueError(f"{self.source or 'FaceImage'}: image must be uint8 HxWx3 RGB, got {got}")
        boxes = validate_boxes(self.boxes, (img.shape[1], img.shape[0]), where=self.source or "FaceImage")
        object.__setattr__(self, "boxes", boxes)
        n = len(boxes)
        if not self.kinds:
            object.__setattr__(self, "kinds", (None,) * n)
        if not self.identities:
            object.__setattr__(self, "identities", (None,) * n)
        for name in ("kinds", "identities"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{self.source}: {name} has {len(getattr(self, name))} entries for {n} boxes")
        bad = [k for k in self.kinds if k is not None and k not in KINDS]
        if bad:
            raise ValueError(f"{self.source}: unknown face kind {bad[0]!r}; expected one of {KINDS} or None")
        for key, value in self.attributes.items():
            if len(value) != n:
                raise ValueError(f"{self.source}: attribute {key!r} has {len(value)} entries for {n} boxes")

    @property
    def height(self) -> int:
        return self.image.shape[0]

    @property
    def width(self) -> int:
        return self.image.shape[1]


def validate_boxes(boxes, size: Size | None = None, where: str = "") -> np.ndarray:
    """Return boxes as float32 [N, 4] xyxy, or raise ``ValueError`` naming ``where`` and the offending box.

    The one box check of the data layer: loaders call it on each box while its annotation line is known
    (``where`` = ``file:line``), :class:`FaceImage` on every record against the decoded image. Non-finite and
    zero-area boxes are errors (they cannot be localized); with an image ``size`` (width, height), so are boxes
    entirely outside the image, and a box that pokes out is clipped to it, since annotators routinely draw to the
    frame edge and beyond. The check runs on the float32 values the environments will see (a number too large for
    float32 becomes infinite, and is reported as such).
    """
    with np.errstate(over="ignore"):
        arr = np.asarray(boxes, dtype=np.float32)
    if arr.size == 0:
        return np.zeros((0, 4), np.float32)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{where}: boxes must have shape [N, 4], got {arr.shape}")
    finite = np.isfinite(arr).all(axis=1)
    for i, (x1, y1, x2, y2) in enumerate(arr.tolist()):
        if not finite[i]:
            problem = "has a non-finite coordinate"
        elif x2 <= x1 or y2 <= y1:
            problem = "has zero or negative area"
        elif size is not None and (x2 <= 0 or y2 <= 0 or x1 >= size[0] or y1 >= size[1]):
            problem = f"lies outside the {size[0]}x{size[1]} image"
        else:
            continue
        label = "box" if len(arr) == 1 else f"box {i}"
        raise ValueError(f"{where}: {label} {[round(v, 3) for v in (x1, y1, x2, y2)]} (x1, y1, x2, y2) {problem}")
    if size is None:
        return arr
    clipped = arr.copy()
    np.clip(clipped[:, 0::2], 0, size[0], out=clipped[:, 0::2])
    np.clip(clipped[:, 1::2], 0, size[1], out=clipped[:, 1::2])
    return clipped


class Dataset(ABC, Generic[T]):
    """Protocol of every source, still images and video sequences alike: ``len``, indexing, and sampling with a
    caller's generator.

    Sampling takes the generator as an argument (never a global or an owned one) so that an environment's
    ``np_random`` alone decides what it sees and seeded runs repeat exactly.
    """

    unit = "items"  # what an item is called in error messages

    @abstractmethod
    def __len__(self) -> int:
        """Number of items."""

    @abstractmethod
    def __getitem__(self, index: int) -> T:
        """The item at ``index`` (negative indices count from the end)."""

    def sample(self, rng: np.random.Generator) -> T:
        n = len(self)
        if n == 0:
            raise ValueError(f"{self!r} is empty: nothing to sample")
        return self[int(rng.integers(n))]

    def _check_index(self, index: int) -> int:
        """``index`` as a non-negative position, or ``IndexError``: implementations index with it directly."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for a dataset of {n} {self.unit}")
        return index % n


class FaceDataset(Dataset[FaceImage]):
    """Protocol of every still-image source: items are :class:`FaceImage` records."""

    unit = "images"


@dataclass(frozen=True)
class Entry:
    """What a loader parsed for one image, with its path instead of pixels: decoding waits until the image is used."""

    path: str
    boxes: np.ndarray
    kinds: tuple[str | None, ...] = ()
    identities: tuple[int | None, ...] = ()
    attributes: dict[str, np.ndarray] = field(default_factory=dict)


class ListDataset(FaceDataset):
    """Images on disk listed with their boxes; pixels are decoded lazily on access.

    Loaders parse their annotation files into entries (``path``, ``boxes`` xyxy, optional ``kinds``,
    ``identities``, ``attributes``), checking each image as they go (:func:`images.check_image`), and hand them
    here, so decoding, validation and errors are shared.
    """

    def __init__(self, entries: Sequence[Entry], name: str) -> None:
        self.entries = list(entries)
        self.name = name
        if not self.entries:
            raise ValueError(f"{name}: the dataset is empty (no annotated images found)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {len(self)} images)"

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> FaceImage:
        e = self.entries[self._check_index(index)]
        return FaceImage(read_image(e.path), e.boxes, e.kinds, e.identities, e.path, e.attributes)
