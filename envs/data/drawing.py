"""Sub-pixel, anti-aliased OpenCV drawing and colour helpers for the procedural sources (still faces and clips).

Coordinates are floats in pixel-index units, passed to OpenCV with ``SHIFT`` fractional bits so that small faces keep
sub-pixel geometry; every primitive is anti-aliased. Colours may be tuples or numpy arrays (palette arithmetic):
they are truncated to ints here, once, so that every caller draws the same colour for the same numbers.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "ONE",
    "SHIFT",
    "Colour",
    "as_colour",
    "ellipse",
    "jittered",
    "line",
    "mix",
    "point",
    "polygon",
    "rect",
    "shade",
    "solid",
]

Colour = tuple[int, int, int]
SHIFT = 4  # fractional bits of the drawing coordinates
ONE = 1 << SHIFT


def as_colour(c) -> tuple[int, ...]:
    """Any colour-like sequence as the int tuple OpenCV expects (values truncated, not rounded)."""
    return tuple(map(int, c))


def point(x: float, y: float) -> tuple[int, int]:
    return round(x * ONE), round(y * ONE)


def ellipse(
    img: np.ndarray,
    x: float,
    y: float,
    ax: float,
    ay: float,
    colour,
    angle: float = 0.0,
    start: int = 0,
    end: int = 360,
    thickness: int = -1,
) -> None:
    """An ellipse (filled unless ``thickness`` > 0) with half-axes ``ax``/``ay``, at least one sub-pixel each."""
    axes = (max(round(ax * ONE), 1), max(round(ay * ONE), 1))
    cv2.ellipse(img, point(x, y), axes, angle, start, end, as_colour(colour), thickness, cv2.LINE_AA, SHIFT)


def line(img: np.ndarray, x1: float, y1: float, x2: float, y2: float, colour, thickness: int = 1) -> None:
    cv2.line(img, point(x1, y1), point(x2, y2), as_colour(colour), thickness, cv2.LINE_AA, SHIFT)


def polygon(img: np.ndarray, points, colour) -> None:
    """A filled polygon through ``points`` (a sequence of (x, y) or an [N, 2] array)."""
    vertices = np.round(np.asarray(points, np.float64) * ONE).astype(np.int32)
    cv2.fillPoly(img, [vertices], as_colour(colour), cv2.LINE_AA, SHIFT)


def rect(img: np.ndarray, x1: float, y1: float, x2: float, y2: float, colour) -> None:
    """A filled axis-aligned rectangle, drawn as a polygon so that its edges are anti-aliased at sub-pixel positions."""
    polygon(img, [(x1, y1), (x2, y1), (x2, y2), (x1, y2)], colour)


def shade(c: Colour, f: float) -> Colour:
    """``c`` darkened (``f < 1``) or brightened (``f > 1``, saturating at 255)."""
    return tuple(min(int(v * f), 255) for v in c)


def mix(a: Colour, b: Colour, t: float) -> Colour:
    """The colour a fraction ``t`` of the way from ``a`` to ``b``."""
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b, strict=True))


def solid(c: Colour) -> tuple[int, int, int, int]:
    """An RGBA colour that also paints the silhouette (alpha) channel."""
    return (*c, 255)


def jittered(palette: np.ndarray, rng: np.random.Generator, jitter: float = 12.0) -> np.ndarray:
    """A random palette entry plus uniform jitter, clipped to [0, 255] (a float array: callers scale it further)."""
    return np.clip(palette[rng.integers(len(palette))] + rng.uniform(-jitter, jitter, palette.shape[1:]), 0, 255)
