"""Image augmentation that keeps the face boxes right, in the env process (numpy and OpenCV).

Why in the env: a localization episode is a whole image and its boxes, so an augmented image must move its boxes
with it; doing it where the episode starts keeps every agent, algorithm and vector env unchanged. Only transforms
that map an axis-aligned box to an exact axis-aligned box are geometric here (mirroring, and zooming by a crop or a
padded frame); a rotation would loosen every box. Why zoom matters most: episodes start from the whole image, so
the face's share of the image decides the task, and the real training photos frame faces larger than crowd photos
such as WIDER do; zooming out (``zoom`` above 1) pads the frame so the face becomes smaller.

All options default to off, and an augmentation that is off draws no random numbers, so an env without
``augment`` sees exactly what it saw before the option existed.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from facebox.config import Configurable, Rule, number

__all__ = ["Augmentation"]

BLUR_SIGMA = (0.5, 2.0)  # px: from barely soft to a visibly out-of-focus face
KEEP = 0.5  # a face cut by a crop keeps its box when at least this fraction of its area stays in the frame


def _zoom_range(value) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(number(gt=0).test(v) for v in value)
        and value[0] <= value[1]
    )


_PROBABILITY = number(ge=0, le=1)


class Augmentation(Configurable):
    """``flip``, ``grey`` and ``blur`` are probabilities; ``brightness`` (of 255), ``contrast`` and ``saturation``
    are the largest relative changes (a factor drawn uniformly in ``1 ± value``); ``zoom = [lo, hi]`` draws the
    frame's side as a fraction of the image's (log-uniform; below 1 crops, above 1 pads with the image's mean
    colour), placed uniformly where it holds one face, chosen at random, entirely."""

    defaults = {
        "flip": 0.0,
        "zoom": [1.0, 1.0],
        "brightness": 0.0,
        "contrast": 0.0,
        "saturation": 0.0,
        "grey": 0.0,
        "blur": 0.0,
    }
    rules = {
        "flip": _PROBABILITY,
        "zoom": Rule("[lo, hi] with 0 < lo <= hi", _zoom_range),
        "brightness": number(ge=0, le=1),
        "contrast": number(ge=0, le=1),
        "saturation": number(ge=0, le=1),
        "grey": _PROBABILITY,
        "blur": _PROBABILITY,
    }

    @property
    def active(self) -> bool:
        """Whether anything is changed: an inactive augmentation is not called, so it draws no random numbers."""
        return tuple(self.config["zoom"]) != (1.0, 1.0) or any(v for k, v in self.config.items() if k != "zoom")

    def __call__(self, image: np.ndarray, boxes: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The augmented image (a new array) and its boxes (float64 xyxy; a face cut off by a crop is dropped)."""
        cfg = self.config
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if cfg["flip"] and rng.random() < cfg["flip"]:
            image = image[:, ::-1]
            boxes = np.stack([image.shape[1] - boxes[:, 2], boxes[:, 1], image.shape[1] - boxes[:, 0], boxes[:, 3]], 1)
        lo, hi = cfg["zoom"]
        if (lo, hi) != (1.0, 1.0):
            image, boxes = self._zoom(image, boxes, math.exp(rng.uniform(math.log(lo), math.log(hi))), rng)
        return self._photometric(np.ascontiguousarray(image), rng), boxes

    @staticmethod
    def _zoom(image: np.ndarray, boxes: np.ndarray, scale: float, rng: np.random.Generator):
        h, w = image.shape[:2]
        face = boxes[int(rng.integers(len(boxes)))]
        # never a frame smaller than the chosen face, which must fit in it whole
        scale = max(scale, (face[2] - face[0]) / w, (face[3] - face[1]) / h)
        fw, fh = max(1, round(scale * w)), max(1, round(scale * h))
        origin = []
        for side, frame, a, b in ((w, fw, face[0], face[2]), (h, fh, face[1], face[3])):
            # the frame holds the face and lies inside the image (a crop) or holds the image (a padded frame)
            low, high = max(b - frame, min(0, side - frame)), min(a, max(0, side - frame))
            origin.append(round(rng.uniform(low, max(low, high))))
        x0, y0 = origin
        if scale <= 1:
            x0, y0 = min(max(x0, 0), w - fw), min(max(y0, 0), h - fh)
            out = image[y0 : y0 + fh, x0 : x0 + fw]
        else:
            x0, y0 = min(max(x0, w - fw), 0), min(max(y0, h - fh), 0)
            fill = [float(c) for c in image.reshape(-1, 3).mean(axis=0)]
            out = cv2.copyMakeBorder(
                np.ascontiguousarray(image), -y0, fh - h + y0, -x0, fw - w + x0, cv2.BORDER_CONSTANT, value=fill
            )
        moved = boxes - np.array([x0, y0, x0, y0], dtype=np.float64)
        clipped = np.clip(moved, 0, [fw, fh, fw, fh])
        area = (moved[:, 2] - moved[:, 0]) * (moved[:, 3] - moved[:, 1])
        inside = (clipped[:, 2] - clipped[:, 0]).clip(0) * (clipped[:, 3] - clipped[:, 1]).clip(0)
        return out, clipped[inside >= KEEP * area]

    def _photometric(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Colour changes on uint8 pixels with OpenCV's saturating ops (a lookup table for brightness and contrast):
        ~5x cheaper than the same arithmetic in float, and the reset is on the agent's clock."""
        cfg = self.config
        grey = bool(cfg["grey"]) and rng.random() < cfg["grey"]
        bright, contrast, saturation = (
            rng.uniform(-v, v) if v else 0.0 for v in (cfg["brightness"], cfg["contrast"], cfg["saturation"])
        )
        blur = bool(cfg["blur"]) and rng.random() < cfg["blur"]
        out = image
        if grey or saturation:
            luma = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
            out = luma if grey else cv2.addWeighted(out, 1 + saturation, luma, -saturation, 0)
        if bright or contrast:
            mean = float(out.mean())  # contrast scales about the mean level (of all channels, near enough to luma)
            table = mean + (1 + contrast) * (np.arange(256, dtype=np.float64) - mean) + 255.0 * bright
            out = cv2.LUT(out, np.clip(table + 0.5, 0, 255).astype(np.uint8))
        if blur:
            out = cv2.GaussianBlur(out, (0, 0), rng.uniform(*BLUR_SIGMA))
        return out
