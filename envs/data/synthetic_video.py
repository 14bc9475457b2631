"""Seeded dashcam-like clips with a face to track: the embedded default video source (numpy + OpenCV only).

Why procedural, as for the still images: endless, exactly labelled, licence-free clips that run anywhere, so a
tracking agent can be trained and tested before any real video is downloaded. What a tracker must cope with is
built in on purpose, each as a smooth function of time:

* **Ego-motion.** A road in perspective (vanishing point, horizon, lane markings) seen from a moving car: markings,
  poles, trees, signs, buildings and other cars stream toward the camera at the car's speed, the camera yaws slowly
  and shakes, so the background never holds still and a tracker cannot lean on a static scene.
* **The target** is one face (human or animal, from the still-image generator's :func:`render_face`), on a body,
  moving on a random smooth trajectory, changing scale (approaching or receding) and in-plane angle, blurred along
  its motion (a line kernel as long as its displacement during the exposure), under changing illumination, and
  now and then partly covered by a pole or a vehicle passing in front.
* **Look-alike distractors.** One or more faces of other identities (mostly of the target's kind) share the scene
  with their own trajectories, so appearance alone is ambiguous and a tracker must also use motion.

Reproducible and lazy: clip ``i`` of seed ``s`` draws everything from ``np.random.default_rng([s, i])`` when it is
constructed, but stores only per-frame parameters (trajectories, camera, lighting) and one small RGBA sprite per
face; ``frame(t)`` renders frame ``t`` from those alone, so frames repeat bit for bit in any access order. The box
of each frame is computed from the face sprite's silhouette hull under the frame's transform (tight for any scale
and angle), clipped to the frame, NaN when the face is entirely out of view; occlusion does not shrink it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from facebox.envs.data.drawing import as_colour, ellipse, jittered, polygon, rect
from facebox.envs.data.synthetic import check_parameters, noise_bank
from facebox.envs.data.synthetic_identity import identity_params
from facebox.envs.data.synthetic_sprite import FaceSprite
from facebox.envs.data.video import VideoDataset, VideoSequence

__all__ = ["SyntheticClip", "SyntheticVideos"]

_CAMERA_HEIGHT = 1.3  # metres; world units below are metres
_SPAN = 70.0  # roadside objects repeat every _SPAN metres of travel
_NEAR = 1.2  # nearest depth drawn
_ROAD_RIGHT, _ROAD_LEFT = 1.75, -5.25  # two lanes of 3.5 m, the camera in the right one

_SKIES = np.array(
    [[(92, 140, 206), (196, 214, 232)], [(150, 154, 162), (206, 206, 206)], [(74, 70, 120), (236, 160, 108)]]
)
_GROUNDS = np.array([(74, 112, 52), (150, 136, 88), (112, 110, 104), (96, 124, 70)])
_CAR_COLOURS = np.array([(200, 30, 30), (230, 230, 230), (30, 30, 36), (40, 70, 150), (150, 150, 156), (210, 180, 40)])
_PROP_COLOURS = {
    "pole": np.array([(110, 110, 112), (80, 70, 60)]),
    "tree": np.array([(46, 96, 40), (70, 120, 50), (34, 72, 40)]),
    "sign": np.array([(200, 30, 30), (30, 70, 170), (230, 200, 40)]),
    "building": np.array([(170, 150, 130), (200, 190, 170), (130, 120, 120), (160, 90, 70)]),
    "bush": np.array([(60, 100, 45), (90, 110, 50)]),
    "car": _CAR_COLOURS,
}


def _wave(rng: np.random.Generator, frames: int, amplitude: float, periods: tuple[float, float]) -> np.ndarray:
    """A smooth random signal peaking below ``amplitude``: three sinusoids of random period, phase and weight.

    Its slope is at most ``2 * pi * amplitude / periods[0]`` per frame, which bounds how fast anything moves.
    """
    t = np.arange(frames)[:, None]
    period = rng.uniform(*periods, 3)
    weight = rng.uniform(0.3, 1.0, 3)
    signal = (weight * np.sin(2 * math.pi * t / period + rng.uniform(0, 2 * math.pi, 3))).sum(axis=1)
    return signal * (amplitude / weight.sum())


class SyntheticClip(VideoSequence):
    """One seeded clip; see the module docstring. ``others`` holds the distractor faces' boxes ``[frames, D, 4]``
    (same convention as ``boxes``), ``identity``/``kind`` the target's, ``distractor_identities`` theirs.
    """

    def __init__(
        self, seed: int, index: int, size: int, frames: int, animal_fraction: float, identities: int, distractors: int
    ) -> None:
        rng = np.random.default_rng([seed, index])
        self.name = f"synthetic:{seed}/{index}"
        self.size, s = size, float(size)
        # camera: horizon, slow yaw of the vanishing point, shake, speed
        shake = rng.normal(0, s * rng.uniform(0.002, 0.012), (frames + 2, 2))
        self.shake = (shake[:-2] + 2 * shake[1:-1] + shake[2:]) / 4
        self.horizon = s * rng.uniform(0.36, 0.46) + _wave(rng, frames, 0.01 * s, (20, 60)) + self.shake[:, 1]
        self.vanish = s * (0.5 + rng.uniform(-0.08, 0.08)) + _wave(rng, frames, 0.08 * s, (60, 240)) + self.shake[:, 0]
        speed = rng.uniform(0.4, 1.0) * (1 + _wave(rng, frames, 0.2, (30, 120)))
        self.travel = np.cumsum(speed)
        self.focal = 0.9 * s
        # scenery
        sky = _SKIES[rng.integers(len(_SKIES))] + rng.uniform(-10, 10, (2, 3))
        ground = jittered(_GROUNDS, rng)
        self.sky, self.ground = np.clip(sky, 0, 255), np.stack([ground * 0.8, ground * 1.05]).clip(0, 255)
        self.hills = (np.linspace(-1.5 * s, 1.5 * s, 24), rng.uniform(0.0, 0.08 * s, 24), jittered(_GROUNDS, rng) * 0.7)
        self.road = as_colour(rng.uniform(70, 115) + rng.uniform(-6, 6, 3))
        self.walk = as_colour(rng.uniform(140, 180) + rng.uniform(-8, 8, 3))
        self.lane_colour = as_colour((235, 235, 228) if rng.random() < 0.6 else (230, 190, 60))
        self.props = [self._prop(rng) for _ in range(int(rng.integers(8, 16)))]
        # faces: the target first, then the distractors
        target = identity_params(int(rng.integers(identities)), animal_fraction)
        self.identity, self.kind = target.identity, target.kind
        exposure = rng.uniform(0.3, 1.2)
        faces = [FaceSprite(target, *self._path(rng, frames, 1.0), rng, exposure)]
        others: list[int] = []
        for _ in range(int(rng.integers(1, distractors + 1)) if distractors else 0):
            ident = target
            for _attempt in range(20):  # look-alikes: mostly the target's kind, never the target itself
                ident = identity_params(int(rng.integers(identities)), animal_fraction)
                if ident.identity != target.identity and (ident.kind == target.kind or rng.random() < 0.3):
                    break
            if ident.identity != target.identity:
                faces.append(FaceSprite(ident, *self._path(rng, frames, rng.uniform(0.5, 1.0)), rng, exposure))
                others.append(ident.identity)
        self.faces, self.distractor_identities = faces, tuple(others)
        self.boxes = faces[0].boxes(size, size)
        self.others = (
            np.stack([f.boxes(size, size) for f in faces[1:]], axis=1)
            if others
            else np.zeros((frames, 0, 4), np.float32)
        )
        # things passing between the camera and the target:
        # (first frame, duration, kind, width and top relative to the face size, colour, direction)
        self.passes = []
        for _ in range(int(rng.integers(0, 3))):
            duration = int(rng.integers(8, 17))
            start = int(rng.integers(0, max(frames - duration, 0) + 1))
            kind = "pole" if rng.random() < 0.6 else "vehicle"
            width = rng.uniform(0.2, 0.5) if kind == "pole" else rng.uniform(1.5, 3.0)
            colour = jittered(_CAR_COLOURS, rng, 20) * (0.5 if kind == "pole" else 1.0)
            top = rng.uniform(0.0, 0.35)  # a vehicle's roof, below the face centre: the lower face is hidden
            self.passes.append((start, duration, kind, width, top, as_colour(colour), int(rng.choice((-1, 1)))))
        # lighting and sensor
        self.gain = np.exp(
            rng.uniform(-0.25, 0.15)
            + np.stack([_wave(rng, frames, rng.uniform(0.05, 0.3), (15, 80)) for _ in range(4)], axis=1)
        ).reshape(frames, 2, 2, 1) * rng.uniform(0.92, 1.08, 3)
        self.noise_at = rng.integers(0, 64, (frames, 2))
        self.noise_weight = rng.uniform(0.1, 0.5)

    @staticmethod
    def _prop(rng: np.random.Generator) -> tuple:
        """A roadside object: (kind, lateral X, depth phase, size factor, colour, extra colour)."""
        kind = str(rng.choice(["pole", "tree", "tree", "sign", "building", "bush", "car"]))  # trees twice as often
        side = 1 if rng.random() < 0.5 else -1
        edge = _ROAD_RIGHT if side > 0 else _ROAD_LEFT
        if kind == "car":
            x = float(rng.choice([-1.75, 0.0]))  # oncoming lane or the camera's own lane, ahead
        elif kind == "building":
            x = edge + side * rng.uniform(7, 14)
        else:
            x = edge + side * rng.uniform(2.3, 6)
        colour = jittered(_PROP_COLOURS[kind], rng)
        return kind, x, rng.uniform(0, _SPAN), rng.uniform(0.7, 1.4), colour, rng.uniform(40, 90, 3)

    def _path(self, rng: np.random.Generator, frames: int, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centre ``[frames, 2]``, size ``[frames]`` (pixels, the longer side of the face) and angle of one face.

        Sinusoid sums with periods of 50+ frames keep the speed below about 0.04 * size per frame; the size follows
        a trend (approaching or receding) plus a wobble, so it changes by a factor up to about 2 in a 60-frame clip.
        """
        s = float(self.size)
        center = (
            np.stack(
                [
                    s * rng.uniform(0.25, 0.75) + _wave(rng, frames, s * rng.uniform(0.08, 0.3), (50, 200)),
                    s * rng.uniform(0.35, 0.65) + _wave(rng, frames, s * rng.uniform(0.05, 0.15), (50, 200)),
                ],
                axis=1,
            )
            + self.shake
        )
        trend = rng.uniform(0.25, 0.7) * rng.choice((-1, 1)) * (np.arange(frames) / max(frames - 1, 1) - 0.5)
        size = (
            s
            * scale
            * math.exp(rng.uniform(math.log(0.14), math.log(0.34)))
            * np.exp(trend + _wave(rng, frames, 0.1, (30, 120)))
        )
        angle = _wave(rng, frames, rng.uniform(0, 15), (40, 160))
        return center, np.clip(size, 0.06 * s, 0.6 * s), angle

    # ------------------------------------------------------------------------------------------------ rendering

    def _project(self, t: int, x: float, z: float, height: float = 0.0) -> tuple[float, float]:
        """Image position of the world point ``x`` metres right of the camera, ``z`` ahead, ``height`` up."""
        return self.vanish[t] + self.focal * x / z, self.horizon[t] + self.focal * (_CAMERA_HEIGHT - height) / z

    def _read(self, index: int) -> np.ndarray:
        t, size = index, self.size
        img = self._backdrop(t)
        self._draw_road(img, t)
        for kind, x, z, *rest in sorted(self._placed(t), key=lambda p: -p[2]):
            self._draw_prop(img, t, kind, x, z, *rest)
        for face in sorted(self.faces, key=lambda f: f.size[t]):  # the larger (nearer) face is drawn over
            face.draw(img, t)
        self._draw_passes(img, t)
        gain = cv2.resize((self.gain[t] * 128).clip(0, 255).astype(np.uint8), (size, size))
        img = cv2.multiply(img, gain, scale=1 / 128)
        oy, ox = self.noise_at[t]
        noise = noise_bank(size)[oy : oy + size, ox : ox + size]
        return cv2.addWeighted(img, 1.0, noise, self.noise_weight, 0, dtype=cv2.CV_8U)

    def _backdrop(self, t: int) -> np.ndarray:
        size, horizon = self.size, self.horizon[t]
        y = np.arange(size, dtype=np.float64)[:, None] + 0.5
        up = np.clip(y / max(horizon, 1.0), 0, 1)
        down = np.clip((y - horizon) / max(size - horizon, 1.0), 0, 1)
        column = np.where(
            y < horizon,
            self.sky[0] + up * (self.sky[1] - self.sky[0]),
            self.ground[0] + down * (self.ground[1] - self.ground[0]),
        )
        img = np.ascontiguousarray(np.broadcast_to(column.astype(np.uint8)[:, None, :], (size, size, 3)))
        xs, heights, colour = self.hills
        u = xs + self.vanish[t]
        polygon(img, [*zip(u, horizon - heights, strict=True), (u[-1], horizon + 1), (u[0], horizon + 1)], colour)
        return img

    def _draw_road(self, img: np.ndarray, t: int) -> None:
        near, far = 0.6, 400.0

        def strip(x1: float, x2: float, z1: float, z2: float, colour) -> None:
            """The ground between ``x1`` and ``x2`` (left to right) from depth ``z1`` to ``z2``."""
            corners = [(x1, z2), (x2, z2), (x2, z1), (x1, z1)]
            polygon(img, [self._project(t, x, z) for x, z in corners], colour)

        strip(_ROAD_LEFT - 2.5, _ROAD_RIGHT + 2.5, near, far, self.walk)
        strip(_ROAD_LEFT, _ROAD_RIGHT, near, far, self.road)
        for edge in (_ROAD_LEFT + 0.1, _ROAD_RIGHT - 0.25):
            strip(edge, edge + 0.15, near, far, self.lane_colour)
        for k in range(8):  # centre-line dashes, 3 m long every 12 m, streaming toward the camera
            start = k * 12.0 - self.travel[t] % 12.0
            if start + 3.0 > near:
                strip(-1.82, -1.68, max(start, near), start + 3.0, self.lane_colour)

    def _placed(self, t: int) -> list[tuple]:
        """Props with their depth at frame ``t``: they repeat every _SPAN metres, oncoming cars twice as fast."""
        out = []
        for kind, x, phase, scale, colour, extra in self.props:
            if kind == "car" and x >= 0:  # ahead in the camera's lane, at the camera's speed
                z = 8.0 + phase % 25.0
            else:
                z = _NEAR + (phase - (2.2 if kind == "car" else 1.0) * self.travel[t]) % _SPAN
            out.append((kind, x, z, scale, colour, extra))
        return out

    def _draw_prop(self, img, t: int, kind: str, x: float, z: float, scale: float, colour, extra) -> None:
        f = self.focal / z
        u, v = self._project(t, x, z)
        if kind == "pole":
            rect(img, u - 0.1 * f, v - 7 * scale * f, u + 0.1 * f, v, colour)
            reach = -1.5 if x > 0 else 1.5
            rect(
                img, min(u, u + reach * f), v - 7 * scale * f, max(u, u + reach * f), v - (7 * scale - 0.12) * f, colour
            )
        elif kind == "tree":
            rect(img, u - 0.18 * f, v - 2.6 * scale * f, u + 0.18 * f, v, (90, 64, 40))
            for dx, dy, r in ((0, 4.2, 1.9), (-0.8, 3.4, 1.3), (0.9, 3.5, 1.3)):
                shade = colour * (0.85 + 0.1 * dx)
                ellipse(img, u + dx * scale * f, v - dy * scale * f, r * scale * f, r * scale * 1.1 * f, shade)
        elif kind == "sign":
            rect(img, u - 0.05 * f, v - 2.4 * f, u + 0.05 * f, v, (140, 140, 140))
            ellipse(img, u, v - 2.4 * f, 0.45 * scale * f, 0.45 * scale * f, colour)
            ellipse(img, u, v - 2.4 * f, 0.3 * scale * f, 0.3 * scale * f, (240, 240, 240))
        elif kind == "bush":
            ellipse(img, u, v - 0.4 * scale * f, 1.1 * scale * f, 0.6 * scale * f, colour)
        elif kind == "building":
            depth, height = 20 * scale, 12 * scale
            z2 = z + depth
            corners = [
                self._project(t, x, z),
                self._project(t, x, z2),
                self._project(t, x, z2, height),
                self._project(t, x, z, height),
            ]
            polygon(img, corners, colour)
            for floor in np.arange(3.0, height, 3.0):  # storeys as dark window bands
                a, b = self._project(t, x, z, floor - 1.4), self._project(t, x, z2, floor - 1.4)
                c, d = self._project(t, x, z2, floor - 0.4), self._project(t, x, z, floor - 0.4)
                polygon(img, [a, b, c, d], extra)
        else:  # car, seen from behind (or head-on in the oncoming lane)
            w, h = 0.9 * f, 1.4 * f
            rect(img, u - w, v - h, u + w, v, colour)
            rect(img, u - 0.8 * w, v - 0.95 * h, u + 0.8 * w, v - 0.6 * h, (40, 44, 52))
            light = (250, 240, 200) if x < 0 else (220, 30, 30)
            for side in (-1, 1):
                rect(
                    img,
                    u + side * 0.85 * w - 0.12 * w,
                    v - 0.45 * h,
                    u + side * 0.85 * w + 0.12 * w,
                    v - 0.3 * h,
                    light,
                )
            rect(img, u - w, v - 0.08 * h, u + w, v + 0.05 * h, (20, 20, 20))

    def _draw_passes(self, img: np.ndarray, t: int) -> None:
        """Poles and vehicles sweeping across the target's position: partial occlusion for a few frames."""
        target = self.faces[0]
        for start, duration, kind, width, top, colour, direction in self.passes:
            if not start <= t < start + duration:
                continue
            (cx, cy), s = target.center[t], float(target.size[t])
            w = width * s
            progress = (t - start + 0.5) / duration - 0.5
            x = cx + direction * progress * 2 * (0.5 * s + 0.5 * w)
            if kind == "pole":
                rect(img, x - w / 2, -1, x + w / 2, self.size + 1, colour)
            else:
                y = cy + top * s
                rect(img, x - w / 2, y, x + w / 2, self.size + 1, colour)
                rect(img, x - w / 2 + 0.1 * s, y + 0.05 * s, x + w / 2 - 0.1 * s, y + 0.3 * s, (40, 44, 52))


class SyntheticVideos(VideoDataset):
    """``length`` seeded clips of ``frames`` frames at ``size`` x ``size``; clip ``i`` a pure function of
    ``(seed, i)``. Identities, their kinds (``animal_fraction``) and appearance are those of
    :class:`~facebox.envs.data.synthetic.SyntheticFaces`; each clip holds 1..``distractors`` look-alike faces.
    """

    unit = "clips"

    def __init__(
        self,
        seed: int = 0,
        size: int = 128,
        frames: int = 60,
        length: int = 10_000,
        animal_fraction: float = 0.4,
        identities: int = 200,
        distractors: int = 2,
    ) -> None:
        check_parameters(
            "SyntheticVideos",
            animal_fraction,
            seed=(seed, 0),
            size=(size, 32),
            frames=(frames, 1),
            length=(length, 1),
            identities=(identities, 2),
            distractors=(distractors, 0),
        )
        self.seed, self.size, self.frames, self.length = int(seed), int(size), int(frames), int(length)
        self.animal_fraction, self.identities, self.distractors = (
            float(animal_fraction),
            int(identities),
            int(distractors),
        )

    def __repr__(self) -> str:
        return f"SyntheticVideos(seed={self.seed}, size={self.size}, frames={self.frames}, length={self.length})"

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> SyntheticClip:
        return SyntheticClip(
            self.seed,
            self._check_index(index),
            self.size,
            self.frames,
            self.animal_fraction,
            self.identities,
            self.distractors,
        )
