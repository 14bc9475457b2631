"""Box arithmetic shared by environments, policies and metrics (numpy only).

Boxes are float ``[..., 4]`` arrays ``x1, y1, x2, y2`` in pixels, ``x2``/``y2`` being the right/bottom edges.
"""

from __future__ import annotations

import numpy as np

__all__ = ["center_error", "inclusive_to_xyxy", "iou", "legalize", "xywh_to_xyxy"]

_clip = np._core.umath.clip  # the ufunc itself: np.clip's Python wrapper costs more than the clipping of a few boxes


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a [..., N, 4]`` and ``b [..., M, 4]`` -> ``[..., N, M]``, batch dimensions broadcast
    (a single box may be 1-D): one env's box against its faces, or a batched env's boxes against each env's faces."""
    # Corners as (lo, hi) x (x, y) pairs and raw ufuncs: this runs on a handful of boxes every env step,
    # where the number of numpy calls, not the arithmetic, sets the cost.
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    a = a.reshape(*a.shape[:-1] or (1,), 1, 2, 2)
    b = b.reshape(*b.shape[:-2], 1, -1, 2, 2)
    overlap = np.maximum(np.minimum(a[..., 1, :], b[..., 1, :]) - np.maximum(a[..., 0, :], b[..., 0, :]), 0.0)
    inter = overlap[..., 0] * overlap[..., 1]
    size_a, size_b = a[..., 1, :] - a[..., 0, :], b[..., 1, :] - b[..., 0, :]
    union = size_a[..., 0] * size_a[..., 1] + size_b[..., 0] * size_b[..., 1] - inter
    return inter / np.maximum(union, 1e-12)


def legalize(boxes: np.ndarray, width: float, height: float, min_size: float) -> np.ndarray:
    """Make boxes fit the image: each side at least ``min_size`` and at most the image, and shift (not clip)
    a box that crosses an edge back inside, so that a translation never also shrinks the box. ``width`` and ``height``
    may be arrays that broadcast against the boxes' batch dimensions (a batched env's images differ in size).
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    corners = boxes.reshape(*boxes.shape[:-1], 2, 2)
    lo, hi = corners[..., 0, :], corners[..., 1, :]
    if isinstance(width, np.ndarray) or isinstance(height, np.ndarray):
        limit = np.stack(np.broadcast_arrays(width, height), axis=-1)  # per-image bounds [..., 2]
    else:
        limit = np.array([width, height], dtype=np.float64)
    # clip(x, lo, hi) selects exactly as minimum(maximum(x, lo), hi) for lo <= hi, in one call.
    size = _clip(hi - lo, np.minimum(min_size, limit), limit)
    start = _clip((lo + hi - size) * 0.5, 0.0, limit - size)
    return np.concatenate([start, start + size], axis=-1)


def center_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance in pixels between the centres of matching boxes ``a`` and ``b``."""
    ca = (a[..., :2] + a[..., 2:]) / 2
    cb = (b[..., :2] + b[..., 2:]) / 2
    return np.linalg.norm(ca - cb, axis=-1)


def xywh_to_xyxy(boxes: np.ndarray, origin: float = 0.0) -> np.ndarray:
    """``x, y, w, h`` -> ``x1, y1, x2, y2`` edges, where ``origin`` is the source's coordinate of the image's left/top
    edge: 0 for continuous 0-based coordinates (COCO, WIDER, GOT-10k), 1 for MATLAB-style 1-based pixels (OTB).

    ``x2`` is ``(x - origin) + w`` in that order: loaders' float results (and so seeded runs) depend on it.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    lo = boxes[..., :2] - origin
    return np.concatenate([lo, lo + boxes[..., 2:]], axis=-1)


def inclusive_to_xyxy(boxes: np.ndarray, first: float = 1.0) -> np.ndarray:
    """Inclusive pixel indices ``xmin, ymin, xmax, ymax`` numbered from ``first`` (Pascal VOC: 1) -> edges.

    Pixel ``i`` spans ``[i - first, i - first + 1)``, so ``x1 = xmin - first`` and ``x2 = xmax - (first - 1)``
    (for VOC ``x1 = xmin - 1, x2 = xmax``; subtracting zero keeps ``xmax`` exactly as annotated).
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([boxes[..., :2] - first, boxes[..., 2:] - (first - 1)], axis=-1)
