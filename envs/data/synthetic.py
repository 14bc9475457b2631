"""Seeded procedural faces: human-like and animal-like heads on cluttered backgrounds, numpy + OpenCV only.

Why procedural: an endless, perfectly labelled (box, kind, identity), licence-free source that runs anywhere and
lets every experiment start before a real dataset is downloaded. Design:

* **Reproducible.** Image ``i`` of seed ``s`` is a pure function of ``(s, i)``: its only randomness is
  ``np.random.default_rng([s, i])``, so images repeat bit for bit across runs and processes, any index can be
  drawn without generating the ones before it, and another seed is a held-out set.
* **Identities are global** (:mod:`.synthetic_identity`): what makes a face recognisable comes from the identity
  number, never the dataset seed, so identity ``k`` looks the same in the training seed and in a held-out seed,
  which metric learning relies on. Pose, scale, rotation, expression, lighting, occlusion and background vary per
  image.
* **Exact boxes** (:mod:`.synthetic_face`). A face is drawn upright on a small RGBA patch whose alpha is the head
  silhouette (hair and ears included), then rotated, placed and clipped by one ``warpAffine``; the box is the
  bounding box of the warped alpha, so it is tight for any rotation and for faces cut by the image border.
* **Colour is not enough.** The clutter holds skin- and fur-coloured ovals and blobs (often in the very colour of
  a face in the same image) with dots that do not form an eye/nose/mouth layout, so an agent has to learn what a
  face looks like rather than find the skin-coloured blob.
* **Fast.** Each image is a few dozen OpenCV primitive calls; the only per-pixel randomness (sensor noise,
  textures) is cropped from a noise bank computed once per image size. ``python -m facebox.benchmarks.synthetic_speed``
  measures it against its target (docs/experiments.md, "11.2 Synthetic generator speed").
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

from facebox.config import ConfigError
from facebox.envs.data.drawing import SHIFT, Colour, as_colour, ellipse, line, point, shade
from facebox.envs.data.record import FaceDataset, FaceImage
from facebox.envs.data.synthetic_face import BOX_KINDS, render_face
from facebox.envs.data.synthetic_identity import IDENTITY_SEED, Identity, identity_params

__all__ = [
    "IDENTITY_SEED",
    "Identity",
    "SyntheticFaces",
    "check_parameters",
    "identity_params",
    "noise_bank",
    "render_face",
]

_NOISE_SEED = 7  # fixed, so the noise bank (and hence every image) is the same in every process
_NOISE_PAD = 64  # the bank is this much larger than an image: 64x64 crop offsets give varied noise


@lru_cache(maxsize=8)
def noise_bank(size: int) -> np.ndarray:
    """Gaussian noise (std 16, stored as int16) a little larger than an image, cropped at random offsets.

    Fresh per-image Gaussian noise would cost more than everything else drawn; a fixed bank keeps images
    bit-identical across processes and costs one crop.
    """
    rng = np.random.default_rng(_NOISE_SEED)
    n = size + _NOISE_PAD
    return (rng.standard_normal((n, n, 3), np.float32) * 16).astype(np.int16)


def _noise(bank: np.ndarray, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random h x w window of the noise bank (a view: no copy)."""
    oy, ox = rng.integers(0, bank.shape[0] - h + 1), rng.integers(0, bank.shape[1] - w + 1)
    return bank[oy : oy + h, ox : ox + w]


def _random_colour(rng: np.random.Generator) -> Colour:
    return as_colour(rng.integers(0, 256, 3))


def _background(rng: np.random.Generator, size: int, bank: np.ndarray) -> np.ndarray:
    """Clutter: a colour gradient, rectangles, lines, circles and textured patches."""
    img = cv2.resize(rng.integers(0, 256, (2, 2, 3), dtype=np.uint8), (size, size), interpolation=cv2.INTER_LINEAR)
    for _ in range(rng.integers(1, 6)):
        (x1, x2), (y1, y2) = np.sort(rng.integers(-size // 4, size * 5 // 4, (2, 2)), axis=1)
        cv2.rectangle(
            img,
            (int(x1), int(y1)),
            (int(x2), int(y2)),
            _random_colour(rng),
            -1 if rng.random() < 0.7 else int(rng.integers(1, 4)),
        )
    for _ in range(rng.integers(0, 6)):
        x1, y1, x2, y2 = (int(v) for v in rng.integers(0, size, 4))
        cv2.line(img, (x1, y1), (x2, y2), _random_colour(rng), int(rng.integers(1, 4)), cv2.LINE_AA)
    for _ in range(rng.integers(0, 3)):
        cv2.circle(
            img,
            (int(rng.integers(size)), int(rng.integers(size))),
            int(rng.integers(3, size // 3)),
            _random_colour(rng),
            int(rng.integers(1, 4)),
            cv2.LINE_AA,
        )
    for _ in range(rng.integers(0, 3)):  # textured patch: blotches plus grain
        w, h = (int(v) for v in rng.integers(size // 8, size // 2, 2))
        x, y = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
        k = int(rng.integers(2, 8))
        blotches = cv2.resize(
            rng.integers(0, 256, (k, k, 3), dtype=np.uint8),
            (w, h),
            interpolation=cv2.INTER_NEAREST if rng.random() < 0.3 else cv2.INTER_LINEAR,
        )
        img[y : y + h, x : x + w] = cv2.addWeighted(
            blotches, 1.0, _noise(bank, rng, h, w), rng.uniform(0.5, 2.5), 0, dtype=cv2.CV_8U
        )
    return img


def _distractor(img: np.ndarray, rng: np.random.Generator, colour: Colour) -> None:
    """A face-coloured oval or blob with no face layout: plain, randomly dotted, striped, or lumpy."""
    size = img.shape[0]
    s = size * math.exp(rng.uniform(math.log(0.06), math.log(0.35)))
    x, y = rng.uniform(0, size, 2)
    ax, ay = s / 2, s / 2 * rng.uniform(0.6, 1.4)
    angle = rng.uniform(0, 180)
    variant = rng.integers(4)
    if variant == 3:  # lumpy blob of overlapping discs
        for dx, dy, r in rng.uniform((-0.5, -0.5, 0.3), (0.5, 0.5, 0.6), (int(rng.integers(2, 5)), 3)):
            ellipse(img, x + dx * s, y + dy * s, r * s, r * s, colour)
        return
    ellipse(img, x, y, ax, ay, colour, angle=angle)
    dark = shade(colour, rng.uniform(0.2, 0.6))
    if variant == 1:  # dots scattered uniformly, so they form no eye/nose/mouth pattern
        for r, t, d in rng.uniform((0.0, 0, 0.04), (0.8, 2 * math.pi, 0.12), (int(rng.integers(1, 7)), 3)):
            ellipse(img, x + r * ax * math.cos(t), y + r * ay * math.sin(t), d * s, d * s, dark)
    elif variant == 2:
        for _ in range(rng.integers(1, 4)):
            x1, y1, x2, y2 = rng.uniform(-0.4, 0.4, 4) * s
            line(img, x + x1, y + y1, x + x2, y + y2, dark, max(1, round(s * 0.05)))


def _occlude(img: np.ndarray, box: np.ndarray, rng: np.random.Generator) -> float:
    """Cover one side of ``box`` with a band or a blob; return the fraction of the box covered (<= 0.3)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    f = rng.uniform(0.1, 0.3)
    side = rng.integers(4)
    colour = _random_colour(rng)
    horizontal = side < 2  # band along the left/right edge
    depth = (w if horizontal else h) * f
    if rng.random() < 0.5:
        out = rng.uniform(0.1, 0.4)  # how far the object reaches past the face: not over its neighbours
        if horizontal:
            xa, xb = (x1 - out * w, x1 + depth) if side == 0 else (x2 - depth, x2 + out * w)
            ya, yb = y1 - 0.1 * h, y2 + 0.1 * h
        else:
            ya, yb = (y1 - out * h, y1 + depth) if side == 2 else (y2 - depth, y2 + out * h)
            xa, xb = x1 - 0.1 * w, x2 + 0.1 * w
        cv2.rectangle(img, point(xa, ya), point(xb, yb), colour, -1, cv2.LINE_AA, SHIFT)
        return f
    # half an ellipse inside the box: pi * a * b / 2 = f * w * h with b half the box's edge length
    if horizontal:
        a, b = 4 * f * w / math.pi, h / 2
        ellipse(img, x1 if side == 0 else x2, (y1 + y2) / 2, a, b, colour)
    else:
        a, b = w / 2, 4 * f * h / math.pi
        ellipse(img, (x1 + x2) / 2, y1 if side == 2 else y2, a, b, colour)
    return f


def check_parameters(owner: str, animal_fraction: float | None = None, **minimums: tuple[int, int]) -> None:
    """Reject generator parameters below their minimum (``name=(value, minimum)``), naming the parameter."""
    for name, (value, low) in minimums.items():
        if value < low:
            raise ConfigError(f"{owner}: {name} must be >= {low}, got {value}")
    if animal_fraction is not None and not 0.0 <= animal_fraction <= 1.0:
        raise ConfigError(f"{owner}: animal_fraction must be in [0, 1], got {animal_fraction}")


class SyntheticFaces(FaceDataset):
    """Procedural human and animal faces, each image a pure function of ``(seed, index)``.

    ``max_faces`` faces per image (1..max_faces, smaller when several), identities drawn uniformly from
    ``range(identities)``, ``distractors`` the most face-coloured decoys per image (at least half that many).
    ``box`` is what a face's box covers: the whole head (``"head"``, hair and ears included) or the face oval
    (``"face"``: forehead to chin, the convention of WIDER FACE, dlib's faces and the cat-face sets).

    Per-face ``attributes``: ``angle`` (degrees), ``occlusion`` (fraction of the box covered), ``blur``
    (Gaussian sigma of the whole image, 0 if sharp).
    """

    def __init__(
        self,
        seed: int = 0,
        size: int = 128,
        length: int = 100_000,
        max_faces: int = 1,
        animal_fraction: float = 0.4,
        identities: int = 200,
        distractors: int = 6,
        box: str = "head",
    ) -> None:
        check_parameters(
            "SyntheticFaces",
            animal_fraction,
            seed=(seed, 0),
            size=(size, 32),
            length=(length, 1),
            max_faces=(max_faces, 1),
            identities=(identities, 1),
            distractors=(distractors, 0),
        )
        self.seed, self.size, self.length = int(seed), int(size), int(length)
        self.max_faces, self.animal_fraction = int(max_faces), float(animal_fraction)
        self.identities, self.distractors = int(identities), int(distractors)
        if box not in BOX_KINDS:
            raise ConfigError(f"SyntheticFaces: box must be one of {BOX_KINDS}, got {box!r}")
        self.box = box

    def __repr__(self) -> str:
        return f"SyntheticFaces(seed={self.seed}, size={self.size}, length={self.length})"

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> FaceImage:
        index = self._check_index(index)
        rng = np.random.default_rng([self.seed, index])
        size, bank = self.size, noise_bank(self.size)
        faces = self._layout(rng)
        img = _background(rng, size, bank)
        face_colours = [ident.skin for ident, *_ in faces]
        for _ in range(rng.integers((self.distractors + 1) // 2, self.distractors + 1)):
            if rng.random() < 0.5:
                colour = face_colours[int(rng.integers(len(face_colours)))]
            else:
                colour = identity_params(int(rng.integers(self.identities)), self.animal_fraction).skin
            _distractor(img, rng, colour)
        boxes, angles, occlusion = [], [], []
        # Each occluder goes on before the next face, which may then cover it. Every centre lies on the canvas,
        # so render_face always returns a box here.
        for ident, center, s, angle in faces:
            box = render_face(img, ident, center, s, angle, rng, self.box)
            boxes.append(box)
            angles.append(angle)
            occlusion.append(_occlude(img, box, rng) if rng.random() < 0.3 else 0.0)

        gain = rng.uniform(0.6, 1.3, (2, 2, 1)) * rng.uniform(0.92, 1.08, (1, 1, 3)) * 128
        img = cv2.multiply(img, cv2.resize(gain.astype(np.uint8), (size, size)), scale=1 / 128)
        blur = rng.uniform(0.4, 1.2) * size / 128 if rng.random() < 0.25 else 0.0
        if blur:
            img = cv2.GaussianBlur(img, (0, 0), blur)
        img = cv2.addWeighted(img, 1.0, _noise(bank, rng, size, size), rng.uniform(0.0, 0.6), 0, dtype=cv2.CV_8U)
        n = len(boxes)
        return FaceImage(
            image=img,
            boxes=np.stack(boxes),
            kinds=tuple(ident.kind for ident, *_ in faces),
            identities=tuple(ident.identity for ident, *_ in faces),
            source=f"synthetic:{self.seed}/{index}",
            attributes={
                "angle": np.array(angles, np.float32),
                "occlusion": np.array(occlusion, np.float32),
                "blur": np.full(n, blur, np.float32),
            },
        )

    def _layout(self, rng: np.random.Generator) -> list[tuple[Identity, tuple[float, float], float, float]]:
        """Choose identity, centre, size and angle of each face, keeping faces from hiding one another.

        Sizes are log-uniform from 8% (at least 8 px) to 62% of the side (less in a crowd), so the rotated box
        spans about 8-70%. A centre at least 0.2 * size from the border keeps >= 4 px of every face visible.
        """
        side = self.size
        n = int(rng.integers(1, self.max_faces + 1))
        low = max(0.08 * side, 8.0)
        high = max(0.62 * side / math.sqrt(n), low)
        placed: list[tuple[Identity, tuple[float, float], float, float]] = []
        for _ in range(n):
            ident = identity_params(int(rng.integers(self.identities)), self.animal_fraction)
            s = math.exp(rng.uniform(math.log(low), math.log(high)))
            angle = float(np.clip(rng.normal(0.0, 12.0), -25.0, 25.0))
            for _attempt in range(10):
                margin = s * (0.5 if rng.random() < 0.75 else 0.2)
                cx, cy = (float(v) for v in rng.uniform(margin, side - margin, 2))
                if all(_overlap((cx, cy, s), (px, py, ps)) < 0.2 for _, (px, py), ps, _ in placed):
                    placed.append((ident, (cx, cy), s, angle))
                    break
        return placed


def _overlap(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """Intersection over the smaller area of two squares given as (centre x, centre y, side)."""
    (ax, ay, asz), (bx, by, bsz) = a, b
    ix = max(0.0, min(ax + asz / 2, bx + bsz / 2) - max(ax - asz / 2, bx - bsz / 2))
    iy = max(0.0, min(ay + asz / 2, by + bsz / 2) - max(ay - asz / 2, by - bsz / 2))
    return ix * iy / min(asz, bsz) ** 2
