"""Observation types: what the agent sees of the image and the box.

Each type has ``space(env)`` (fixed at construction) and ``observe(env)`` returning a fresh dict. Images are
``uint8`` HxWxC so SB3's ``MultiInputPolicy`` and our encoders treat them as images; the action history is a
flat float vector of the last ``history`` encoded actions, newest last.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING

import cv2
import numpy as np
from gymnasium import spaces

from facebox.config import Configurable, number

if TYPE_CHECKING:
    from facebox.envs.core import BoxEnv

__all__ = [
    "OBSERVATION_TYPES",
    "ObservationType",
    "GlimpseObservation",
    "ImageMaskObservation",
    "Pyramid",
    "scene_with_box",
]


class Pyramid:
    """An image and its successive halvings, so a crop is sampled from a level near its output resolution
    (bilinear warping straight from a large image would alias). A level is built the first time a crop needs it:
    most episodes never zoom out far enough to use the small ones, and every reset brings a new image.
    """

    def __init__(self, image: np.ndarray, smallest: int = 16) -> None:
        self.levels = [image]
        self.depth, side = 1, min(image.shape[:2])  # the number of levels: halve while the side is >= 2 * smallest
        while side >= 2 * smallest:
            self.depth, side = self.depth + 1, (side + 1) // 2  # pyrDown's output size

    def crop(self, box: np.ndarray, size: int, context: float) -> np.ndarray:
        """Warp ``box`` enlarged by ``context`` of its size on each side to ``size x size``; outside is black.

        Box coordinates are continuous (pixel ``i`` spans ``[i, i + 1)``) while OpenCV samples at pixel centres
        (and ``pyrDown`` keeps the even ones: pixel ``j`` of level ``L`` is centred at ``2**L * j + 0.5``), hence
        the half-pixel terms: without them a crop is shifted by half a pixel, and the crop of a mirrored image
        would not be the mirror image of the crop.
        """
        w, h = box[2] - box[0], box[3] - box[1]
        x1, y1 = box[0] - context * w, box[1] - context * h
        cw, ch = w * (1 + 2 * context), h * (1 + 2 * context)
        level = min(int(math.log2(max(min(cw, ch) / size, 1.0))), self.depth - 1)
        while len(self.levels) <= level:
            self.levels.append(cv2.pyrDown(self.levels[-1]))
        scale = 0.5**level
        sx, sy = size / (cw * scale), size / (ch * scale)
        m = np.array([[sx, 0.0, scale * (0.5 - x1) * sx - 0.5], [0.0, sy, scale * (0.5 - y1) * sy - 0.5]])
        return cv2.warpAffine(self.levels[level], m, (size, size), flags=cv2.INTER_LINEAR)


class ObservationType(Configurable, ABC):
    defaults = {"history": 10}
    rules = {"history": number(ge=1, integer=True)}

    def __init__(self, section: Mapping, where: str = "config['observation']") -> None:
        super().__init__(section, where)

    def _history_space(self, env: BoxEnv) -> spaces.Box:
        n = self.config["history"] * env.action_type.encoding_size
        return spaces.Box(env.action_type.encoding_low, 1.0, shape=(n,), dtype=np.float32)

    @abstractmethod
    def space(self, env: BoxEnv) -> spaces.Dict:
        """The observation space, fixed when the env is built."""

    @abstractmethod
    def observe(self, env: BoxEnv) -> dict[str, np.ndarray]:
        """A fresh observation dict for the env's current state."""


def scene_with_box(env: BoxEnv, size: int) -> np.ndarray:
    """The whole image downscaled to ``size``² RGB plus a fourth channel that is 255 inside the current box
    (the downscaled image is cached per image: only the mask changes between steps).
    """
    if env.cache.get("scene_source") is not env.image or env.cache["scene_small"].shape[0] != size:
        env.cache["scene_source"] = env.image
        env.cache["scene_small"] = cv2.resize(env.image, (size, size), interpolation=cv2.INTER_AREA)
    out = np.zeros((size, size, 4), np.uint8)
    out[:, :, :3] = env.cache["scene_small"]
    fx, fy = size / env.image.shape[1], size / env.image.shape[0]
    x1, y1 = int(round(env.box[0] * fx)), int(round(env.box[1] * fy))
    x2, y2 = max(int(round(env.box[2] * fx)), x1 + 1), max(int(round(env.box[3] * fy)), y1 + 1)
    out[y1:y2, x1:x2, 3] = 255
    return out


class GlimpseObservation(ObservationType):
    """``glimpse``: the current box plus ``context`` (fraction of its size per side) warped to ``size``²
    RGB, as Caicedo's warped region with 16 px of context; ``history``: the last actions. With ``scene`` > 0
    also ``scene``: the whole image at ``scene``² with the box as a fourth channel (:func:`scene_with_box`) —
    a glimpse alone cannot tell where a face that the box has lost went, the scene can.
    """

    defaults = {**ObservationType.defaults, "size": 64, "context": 0.1, "scene": 0}
    rules = {
        **ObservationType.rules,
        "size": number(ge=1, integer=True),
        "context": number(ge=0),
        "scene": number(ge=0, integer=True),  # 0: no scene
    }

    def space(self, env: BoxEnv) -> spaces.Dict:
        s, scene = self.config["size"], self.config["scene"]
        parts = {"glimpse": spaces.Box(0, 255, (s, s, 3), np.uint8)}
        if scene:
            parts["scene"] = spaces.Box(0, 255, (scene, scene, 4), np.uint8)
        return spaces.Dict({**parts, "history": self._history_space(env)})

    def observe(self, env: BoxEnv) -> dict[str, np.ndarray]:
        out = {"glimpse": env.pyramid.crop(env.box, self.config["size"], self.config["context"])}
        if self.config["scene"]:
            out["scene"] = scene_with_box(env, self.config["scene"])
        return {**out, "history": env.history_vector()}


class ImageMaskObservation(ObservationType):
    """``image``: the whole image downscaled to ``size``² RGB plus a fourth channel that is 255 inside the
    current box — the global view only, for agents that should see where the box is in the scene.
    """

    defaults = {**ObservationType.defaults, "size": 64}
    rules = {**ObservationType.rules, "size": number(ge=1, integer=True)}

    def space(self, env: BoxEnv) -> spaces.Dict:
        s = self.config["size"]
        return spaces.Dict({"image": spaces.Box(0, 255, (s, s, 4), np.uint8), "history": self._history_space(env)})

    def observe(self, env: BoxEnv) -> dict[str, np.ndarray]:
        return {"image": scene_with_box(env, self.config["size"]), "history": env.history_vector()}


OBSERVATION_TYPES: dict[str, type[ObservationType]] = {
    "glimpse": GlimpseObservation,
    "image_mask": ImageMaskObservation,
}
