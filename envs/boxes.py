"""Box arithmetic shared by environments, policies and metrics (numpy only).

Boxes are float ``[..., 4]`` arrays ``x1, y1, x2, y2`` in pixels, ``x2``/``y2`` being the right/bottom edges.
"""

from __future__ import annotations

import numpy as np

__all__ = ["center_error", "inclusive_to_xyxy", "iou", "legalize", "xywh_to_xyxy"]


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a [N, 4]`` and ``b [M, 4]`` -> ``[N, M]`` (a single box may be 1-D)."""
    # Corners as (lo, hi) x (x, y) pairs and raw ufuncs: this runs on a handful of boxes every env step,
    # where the number of numpy calls, not the arithmetic, sets the cost.
    a = np.asarray(a, dtype=np.float64).reshape(-1, 1, 2, 2)
    b = np.asarray(b, dtype=np.float64).reshape(1, -1, 2, 2)
    overlap = np.maximum(np.minimum(a[..., 1, :], b[..., 1, :]) - np.maximum(a[..., 0, :], b[..., 0, :]), 0.0)
    inter = overlap[..., 0] * overlap[..., 1]
    size_a, size_b = a[..., 1, :] - a[..., 0, :], b[..., 1, :] - b[..., 0, :]
    union = size_a[..., 0] * size_a[..., 1] + size_b[..., 0] * size_b[..., 1] - inter
    return inter / np.maximum(union, 1e-12)


def legalize(boxes: np.ndarray, width: float, height: float, min_size: float) -> np.ndarray:
    """Make boxes fit the image: each side at least ``min_size`` and at most the image, and shift (not clip)
    a box that crosses an edge back inside, so that a translation never also shrinks the box.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    corners = boxes.reshape(*boxes.shape[:-1], 2, 2)
    lo, hi = corners[..., 0, :], corners[..., 1, :]
    limit = np.array([width, height])
    size = np.minimum(np.maximum(hi - lo, np.minimum(min_size, limit)), limit)
    start = np.minimum(np.maximum((lo + hi - size) * 0.5, 0.0), limit - size)
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
