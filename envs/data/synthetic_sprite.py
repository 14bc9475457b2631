"""A face of a synthetic clip as a sprite: rendered once per clip by :func:`synthetic_face.render_face`, then
moved, scaled, rotated and motion-blurred per frame (with its body) by one ``warpAffine``.

Why a sprite: re-rendering the face every frame would redraw its per-appearance variation (gaze, blink) and cost a
full render; warping one premultiplied RGBA sprite keeps the identity fixed, and a small pyramid of it keeps faces
that shrink free of aliasing. Its silhouette hull gives a tight box for any scale and angle without rendering.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from facebox.envs.data.drawing import SHIFT, as_colour, ellipse, jittered, point, rect
from facebox.envs.data.synthetic_face import render_face
from facebox.envs.data.synthetic_identity import Identity

__all__ = ["FaceSprite"]

_LEVELS = 3  # sprite pyramid levels: faces shrink up to 2**_LEVELS times without aliasing
_CLOTHES = np.array([(40, 50, 90), (120, 30, 40), (60, 60, 64), (200, 200, 196), (70, 90, 60), (150, 110, 70)])


class FaceSprite:
    """A face with its body: an RGBA sprite pyramid (premultiplied), its silhouette hull, and per-frame motion."""

    def __init__(
        self,
        ident: Identity,
        center: np.ndarray,
        size: np.ndarray,
        angle: np.ndarray,
        rng: np.random.Generator,
        exposure: float,
    ) -> None:
        self.ident = ident
        self.center, self.size, self.angle = center, size, angle
        self.blur = exposure * np.gradient(center, axis=0) if len(center) > 1 else np.zeros_like(center)
        self.body = as_colour(ident.skin) if ident.kind == "animal" else as_colour(jittered(_CLOTHES, rng, 25))
        self.sprite_size = float(np.max(size))
        side = (math.ceil(self.sprite_size) + 6 + 2**_LEVELS - 1) // 2**_LEVELS * 2**_LEVELS
        seed = int(rng.integers(2**63))
        layers = []
        for background in (0, 255):  # drawn on black and on white: the difference is the coverage (alpha)
            canvas = np.full((side, side, 3), background, np.uint8)
            render_face(canvas, ident, (side / 2, side / 2), self.sprite_size, 0.0, np.random.default_rng(seed))
            layers.append(canvas.astype(np.int16))
        alpha = np.clip(255 - (layers[1] - layers[0]).mean(axis=2).round(), 0, 255).astype(np.uint8)
        rgba = np.dstack([np.minimum(layers[0], alpha[:, :, None]).astype(np.uint8), alpha])
        self.levels = [rgba]
        for _ in range(_LEVELS):
            rgba = cv2.resize(rgba, (rgba.shape[1] // 2, rgba.shape[0] // 2), interpolation=cv2.INTER_AREA)
            self.levels.append(rgba)
        hull = cv2.convexHull(cv2.findNonZero((alpha > 127).astype(np.uint8))).reshape(-1, 2)
        corners = np.array([(0, 0), (1, 0), (0, 1), (1, 1)])
        self.outline = (hull[:, None, :] + corners).reshape(-1, 2) - side / 2  # pixel corners, about the centre

    def _matrix(self, t: int, scale: float) -> np.ndarray:
        """2x2 linear part of the sprite -> frame map at frame ``t``: scale, then counter-clockwise rotation."""
        a = math.radians(float(self.angle[t]))
        return scale * np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])

    def boxes(self, width: int, height: int) -> np.ndarray:
        """Tight xyxy box of the silhouette in every frame, clipped to the frame, NaN when entirely outside."""
        out = np.empty((len(self.size), 4), np.float32)
        for t in range(len(self.size)):
            points = self.outline @ self._matrix(t, self.size[t] / self.sprite_size).T + self.center[t]
            out[t] = (*points.min(axis=0), *points.max(axis=0))
        np.clip(out[:, 0::2], 0, width, out=out[:, 0::2])
        np.clip(out[:, 1::2], 0, height, out=out[:, 1::2])
        out[(out[:, 2] <= out[:, 0]) | (out[:, 3] <= out[:, 1])] = np.nan
        return out

    def draw(self, img: np.ndarray, t: int) -> None:
        cx, cy = (float(v) for v in self.center[t])
        s = float(self.size[t])
        if self.ident.kind == "animal":  # a sitting animal's chest, a shade darker than the face
            ellipse(img, cx, cy + 0.75 * s, 0.42 * s, 0.5 * s, np.multiply(self.body, 0.85))
        else:  # neck and shoulders down to the frame edge: a bust
            rect(img, cx - 0.12 * s, cy + 0.3 * s, cx + 0.12 * s, cy + 0.75 * s, np.multiply(self.ident.skin, 0.85))
            ellipse(img, cx, cy + 0.95 * s, 0.62 * s, 0.25 * s, self.body)
            rect(img, cx - 0.62 * s, cy + 0.95 * s, cx + 0.62 * s, cy + 2.5 * s, self.body)
        scale = s / self.sprite_size
        level = min(max(int(-math.log2(scale)), 0), _LEVELS)
        sprite = self.levels[level]
        a = self._matrix(t, scale * 2**level)
        blur = self.blur[t]
        length = float(np.hypot(*blur))
        reach = sprite.shape[0] * scale * 2**level * 0.75 + length / 2 + 2
        rows, cols = img.shape[:2]
        x0, y0 = max(int(cx - reach), 0), max(int(cy - reach), 0)
        x1, y1 = min(int(cx + reach) + 1, cols), min(int(cy + reach) + 1, rows)
        if x1 <= x0 or y1 <= y0:
            return
        m = np.empty((2, 3))
        m[:, :2] = a
        m[:, 2] = a @ (0.5 - np.array(sprite.shape[1::-1]) / 2) + (cx - 0.5 - x0, cy - 0.5 - y0)
        patch = cv2.warpAffine(sprite, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR)
        if length >= 1.0:  # motion blur: average along the displacement during the exposure
            n = 2 * math.ceil(length / 2) + 1
            kernel = np.zeros((n, n), np.float32)
            c = n // 2
            cv2.line(
                kernel,
                point(c - blur[0] / 2, c - blur[1] / 2),
                point(c + blur[0] / 2, c + blur[1] / 2),
                1.0,
                1,
                8,
                SHIFT,
            )
            patch = cv2.filter2D(patch, -1, kernel / kernel.sum())
        roi = img[y0:y1, x0:x1]
        inverse = 255 - patch[:, :, 3]
        roi[:] = cv2.add(cv2.multiply(roi, cv2.merge([inverse] * 3), scale=1 / 255), patch[:, :, :3])
