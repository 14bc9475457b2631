"""Tracking clips from annotated stills: a virtual camera moves smoothly over a real photo, so every frame has its box.

Why: real tracking training needs annotated video, and the shared real faces are stills. GOTURN (Held et al., ECCV
2016) trains its tracker on still images moved by random affine motion; here the motion is a camera path rather
than independent jumps, so consecutive frames look like video: the view drifts with momentum (``shift``), zooms
(``zoom``), rolls a little (``rotation``, degrees), its exposure drifts (``brightness``) and fast motion blurs the
frame (``blur``). The face's box moves with the camera exactly, because the frame is the still warped by a known
affine map: the box centre is mapped and its sides scaled (a small roll keeps an upright face box upright, as
annotators draw it).

Clip ``i`` is a pure function of ``(seed, i)`` and still ``i % len(source)``: the target face (one of those at least
``min_face`` px wide, else the largest), the start view (the face ``face_min``..``face_max`` of the frame width, off
centre) and the path. The still is decoded when the clip is made (its record carries the boxes the path follows),
and again after unpickling: a pickled clip carries no pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from facebox.config import ConfigError
from facebox.envs.data.record import FaceDataset, FaceImage
from facebox.envs.data.synthetic import check_parameters
from facebox.envs.data.video.sequences import VideoDataset, VideoSequence

__all__ = ["StillClip", "StillVideos"]

_MARGIN = 0.05  # of the view width kept between the face's edge and the frame's: the target never leaves the frame
_MOMENTUM = 0.9  # of the camera's velocity from frame to frame: smooth pans, not jitter


class StillVideos(VideoDataset):
    """``repeats`` camera paths over every still of ``source``, each ``frames`` frames of ``size`` x ``size``."""

    unit = "clips"

    def __init__(
        self,
        source: FaceDataset,
        frames: int = 60,
        size: int = 128,
        repeats: int = 1,
        seed: int = 0,
        shift: float = 0.01,
        zoom: float = 0.01,
        rotation: float = 5.0,
        brightness: float = 0.01,
        blur: float = 1.0,
        face_min: float = 0.15,
        face_max: float = 0.4,
        min_face: int = 16,
    ) -> None:
        check_parameters("StillVideos", frames=(frames, 1), size=(size, 32), repeats=(repeats, 1), seed=(seed, 0))
        for name, value in (("shift", shift), ("zoom", zoom), ("rotation", rotation), ("brightness", brightness)):
            if not value >= 0:
                raise ConfigError(f"StillVideos: {name} must be >= 0, got {value}")
        if not 0 < face_min <= face_max <= 0.8:
            raise ConfigError(f"StillVideos: expected 0 < face_min <= face_max <= 0.8, got {face_min}, {face_max}")
        self.source = source
        self.frames, self.size, self.repeats, self.seed = int(frames), int(size), int(repeats), int(seed)
        self.motion = {"shift": shift, "zoom": zoom, "rotation": rotation, "brightness": brightness}
        self.blur, self.face_range, self.min_face = float(blur), (float(face_min), float(face_max)), int(min_face)

    def __repr__(self) -> str:
        return f"StillVideos({self.source!r}, frames={self.frames}, size={self.size}, repeats={self.repeats})"

    def __len__(self) -> int:
        return len(self.source) * self.repeats

    def __getitem__(self, index: int) -> StillClip:
        index = self._check_index(index)
        return StillClip(self, index)


class StillClip(VideoSequence):
    """One camera path over one still (see the module docstring); ``views`` holds, per frame, the camera centre
    ``(x, y)`` in still pixels, the view width in still pixels, the roll in degrees and the exposure gain."""

    def __init__(self, videos: StillVideos, index: int) -> None:
        self.videos, self.index = videos, index
        still = self._record()
        rng = np.random.default_rng((videos.seed, index))
        face = _pick_face(still, videos.min_face, rng)
        self.name = f"{still.source or 'still'}#{index}"
        self.kind = still.kinds[face]
        self.views = _camera_path(still.boxes[face], videos.frames, videos.face_range, videos.motion, rng)
        self.boxes = _boxes_in_view(still.boxes[face], self.views, videos.size)
        self._still: np.ndarray | None = still.image

    def _record(self) -> FaceImage:
        return self.videos.source[self.index % len(self.videos.source)]

    def _affine(self, index: int) -> np.ndarray:
        """The 2x3 map from still pixels to frame ``index``'s pixels."""
        cx, cy, width, angle, _ = self.views[index]
        size = self.videos.size
        m = cv2.getRotationMatrix2D((float(cx), float(cy)), float(angle), size / float(width))
        m[:, 2] += (size / 2 - cx, size / 2 - cy)
        return m

    def _read(self, index: int) -> np.ndarray:
        if self._still is None:
            self._still = self._record().image
        size = self.videos.size
        frame = cv2.warpAffine(
            self._still, self._affine(index), (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )
        if index:  # motion blur: a Gaussian of a third of the distance the face moved since the last frame
            centres = self.boxes[index - 1 : index + 1].reshape(2, 2, 2).mean(axis=1)
            sigma = self.videos.blur * float(np.hypot(*(centres[1] - centres[0]))) / 3
            if sigma >= 0.5:
                frame = cv2.GaussianBlur(frame, (0, 0), sigma)
        gain = float(self.views[index, 4])
        return frame if gain == 1.0 else cv2.convertScaleAbs(frame, alpha=gain)

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["_still"] = None  # pickles (subprocess workers) carry the path, not the pixels
        return state


def _pick_face(still: FaceImage, min_face: int, rng: np.random.Generator) -> int:
    if len(still.boxes) == 0:
        raise ValueError(f"{still.source or 'a still'}: no annotated face to follow")
    widths = still.boxes[:, 2] - still.boxes[:, 0]
    wide = np.flatnonzero(widths >= min_face)
    return int(rng.choice(wide)) if len(wide) else int(np.argmax(widths))


def _camera_path(box: np.ndarray, frames: int, face_range: tuple[float, float], motion: dict, rng) -> np.ndarray:
    """Per frame ``(cx, cy, view width, roll, gain)``: AR(1) velocities of the face's place in the view, of the log
    view width and of the roll, a random walk of the gain, each clipped to stay plausible."""
    fx, fy, fw = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, max(box[2] - box[0], box[3] - box[1])
    fraction = rng.uniform(*face_range)  # face width / view width
    offset = rng.uniform(-1, 1, 2) * (0.5 - _MARGIN - fraction / 2)  # the face centre's place in the view
    velocity, angle, gain = np.zeros(4), 0.0, 1.0
    views = np.empty((frames, 5))
    for t in range(frames):
        if t:
            scale = np.array([motion["shift"], motion["shift"], motion["zoom"], motion["rotation"] / 10])
            velocity = _MOMENTUM * velocity + scale * rng.standard_normal(4)
            low, high = 0.5 * face_range[0], min(0.8, 1.5 * face_range[1])
            fraction = float(np.clip(fraction * np.exp(velocity[2]), low, high))
            reach = 0.5 - _MARGIN - fraction / 2
            offset = np.clip(offset + velocity[:2], -reach, reach)
            angle = float(np.clip(angle + velocity[3], -motion["rotation"], motion["rotation"]))
            gain = float(np.clip(gain + motion["brightness"] * rng.standard_normal(), 0.7, 1.3))
        width = fw / fraction
        views[t] = (fx - offset[0] * width, fy - offset[1] * width, width, angle, gain)
    return views


def _boxes_in_view(box: np.ndarray, views: np.ndarray, size: int) -> np.ndarray:
    """The face's box in every frame: the centre mapped by the camera, the sides scaled, clipped to the frame."""
    fx, fy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    cx, cy, width, angle = views[:, 0], views[:, 1], views[:, 2], np.radians(views[:, 3])
    scale = size / width
    dx, dy = fx - cx, fy - cy
    # cv2.getRotationMatrix2D turns counter-clockwise on screen (y down): x' = c·dx + s·dy, y' = −s·dx + c·dy
    x = size / 2 + scale * (np.cos(angle) * dx + np.sin(angle) * dy)
    y = size / 2 + scale * (-np.sin(angle) * dx + np.cos(angle) * dy)
    half_w, half_h = scale * (box[2] - box[0]) / 2, scale * (box[3] - box[1]) / 2
    out = np.stack([x - half_w, y - half_h, x + half_w, y + half_h], axis=1)
    return np.clip(out, 0, size).astype(np.float32)
