"""Box arithmetic shared by environments, policies and metrics (numpy only).

Boxes are float ``[..., 4]`` arrays ``x1, y1, x2, y2`` in pixels, ``x2``/``y2`` being the right/bottom edges.
"""

from __future__ import annotations

import numpy as np

__all__ = ["iou", "legalize", "center_error", "xywh_to_xyxy", "xyxy_to_xywh"]


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a [N, 4]`` and ``b [M, 4]`` -> ``[N, M]`` (a single box may be 1-D)."""
    # Written with raw ufuncs: this runs several times per env step on a handful of boxes, where numpy's
    # per-call overhead (np.clip, fancy reshapes) dominates the arithmetic.
    a = np.asarray(a, dtype=np.float64).reshape(-1, 1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(1, -1, 4)
    iw = np.maximum(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0.0)
    ih = np.maximum(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0.0)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-12)


def legalize(boxes: np.ndarray, width: float, height: float, min_size: float) -> np.ndarray:
    """Make boxes fit the image: each side at least ``min_size`` and at most the image, and shift (not clip)
    a box that crosses an edge back inside, so that a translation never also shrinks the box.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    out = np.empty_like(boxes)
    for lo, hi, limit in ((0, 2, width), (1, 3, height)):
        size = np.minimum(np.maximum(boxes[..., hi] - boxes[..., lo], min(min_size, limit)), limit)
        start = np.minimum(np.maximum((boxes[..., lo] + boxes[..., hi] - size) * 0.5, 0.0), limit - size)
        out[..., lo] = start
        out[..., hi] = start + size
    return out


def center_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance in pixels between the centres of matching boxes ``a`` and ``b``."""
    ca = (a[..., :2] + a[..., 2:]) / 2
    cb = (b[..., :2] + b[..., 2:]) / 2
    return np.linalg.norm(ca - cb, axis=-1)


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([boxes[..., :2], boxes[..., :2] + boxes[..., 2:]], axis=-1)


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([boxes[..., :2], boxes[..., 2:] - boxes[..., :2]], axis=-1)
