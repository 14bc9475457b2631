"""Seeded procedural faces: human-like and animal-like heads on cluttered backgrounds, numpy + OpenCV only.

Why procedural: an endless, perfectly labelled (box, kind, identity), licence-free source that runs anywhere and
lets every experiment start before a real dataset is downloaded. Design:

* **Reproducible.** Image ``i`` of seed ``s`` is a pure function of ``(s, i)``: its only randomness is
  ``np.random.default_rng([s, i])``, so images repeat bit for bit across runs and processes, any index can be
  drawn without generating the ones before it, and another seed is a held-out set.
* **Identities are global.** What makes a face recognisable (kind, skin/fur and hair colours, hair style, ears,
  markings, feature geometry) comes from a generator keyed by a fixed constant and the identity number, never by
  the dataset seed: identity ``k`` looks the same in the training seed and in a held-out seed, which metric
  learning relies on. Pose, scale, rotation, expression, lighting, occlusion and background vary per image.
* **Exact boxes.** A face is drawn upright on a small RGBA patch whose alpha is the head silhouette (hair and
  ears included), then rotated, placed and clipped by one ``warpAffine``; the box is the bounding box of the
  warped alpha, so it is tight for any rotation and for faces cut by the image border.
* **Colour is not enough.** The clutter holds skin- and fur-coloured ovals and blobs (often in the very colour of
  a face in the same image) with dots that do not form an eye/nose/mouth layout, so an agent has to learn what a
  face looks like rather than find the skin-coloured blob.
* **Fast.** Each image is a few dozen OpenCV primitive calls; the only per-pixel randomness (sensor noise,
  textures) is cropped from a noise bank computed once per image size. About 1,000+ images/s at 128 px on one
  core (``python -m facebox.benchmarks.synthetic_speed``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from facebox.envs.data.record import FaceDataset, FaceImage

__all__ = [
    "IDENTITY_SEED",
    "Identity",
    "SyntheticFaces",
    "check_parameters",
    "identity_params",
    "noise_bank",
    "render_face",
]

IDENTITY_SEED = 20_240_611  # fixed, so identity k has one appearance whatever the dataset seed
_NOISE_SEED = 7  # fixed, so the noise bank (and hence every image) is the same in every process
_NOISE_PAD = 64  # the bank is this much larger than an image: 64x64 crop offsets give varied noise
_GOLDEN = 0.6180339887498949

Colour = tuple[int, int, int]
Drawn = tuple[np.ndarray, tuple[float, float, float, float]]  # silhouette alpha; face (oval centre y, half-axes, top)
BOX_KINDS = ("head", "face")

_SKIN = np.array([(255, 224, 196), (241, 194, 160), (224, 172, 130), (198, 134, 92), (141, 85, 54), (94, 58, 38)])
_HAIR = np.array(
    [(28, 24, 22), (70, 45, 30), (112, 72, 42), (150, 72, 36), (214, 180, 112), (170, 168, 162), (232, 228, 218)]
)
_FUR = np.array(
    [(222, 132, 52), (204, 162, 112), (122, 82, 50), (42, 36, 36), (142, 140, 136), (236, 230, 220), (218, 172, 84)]
)
_EYES_HUMAN = np.array([(92, 56, 30), (60, 40, 25), (70, 120, 180), (80, 130, 80), (120, 120, 110), (140, 110, 60)])
_EYES_ANIMAL = np.array([(222, 198, 64), (122, 182, 64), (204, 132, 40), (100, 62, 30), (100, 160, 220)])
_WHITE: Colour = (245, 244, 238)
_DARK: Colour = (22, 18, 18)


@dataclass(frozen=True)
class Identity:
    """Everything that stays the same across images of one identity (sizes are fractions of the head).

    All fields exist for both kinds so that one draw order serves both; a human ignores ``ears``/``marking``
    and an animal ignores ``hair_style``/``accessory``.
    """

    identity: int
    kind: str  # "human" or "animal"
    skin: Colour  # skin (human) or fur (animal)
    hair: Colour  # hair and brows (human) or markings and floppy ears (animal)
    eye: Colour  # iris
    aspect: float  # upright head width / height, hair and ears included
    eye_spacing: float  # eye centre distance from the midline, fraction of the head half-width
    eye_size: float
    nose: int  # human: line / nostrils / triangle; animal: pink / black triangle, black oval
    nose_size: float
    mouth: int  # human: smile / lips / line; animal: two-lobed muzzle / snout
    mouth_width: float
    hair_style: int  # bald, short, long, curly, side parting, bun
    accessory: int  # none, glasses, beard, moustache
    ears: int  # pointed, round, floppy
    marking: int  # none, stripes, eye patch, blaze, dark mask
    slit_pupils: bool


def _pick(palette: np.ndarray, u: float, jitter: np.ndarray) -> Colour:
    """Interpolate along a palette at ``u`` in [0, 1) and jitter, so colours are varied but stay plausible."""
    t = u * (len(palette) - 1)
    k = min(int(t), len(palette) - 2)
    c = palette[k] + (t - k) * (palette[k + 1] - palette[k]) + jitter
    return tuple(int(v) for v in np.clip(c, 0, 255))


@lru_cache(maxsize=4096)
def identity_params(identity: int, animal_fraction: float = 0.4) -> Identity:
    """The appearance of ``identity``, identical in every process and every dataset seed.

    The kind comes from a golden-ratio (Weyl) sequence over identity numbers rather than a random draw, so any
    range of identities holds animals at almost exactly ``animal_fraction``; everything else comes from
    ``default_rng([IDENTITY_SEED, identity])``, drawn in one fixed order so that changing ``animal_fraction``
    only flips kinds and never reshuffles the other traits.
    """
    if identity < 0:
        raise ValueError(f"identity must be >= 0, got {identity}")
    animal = (identity * _GOLDEN) % 1.0 < animal_fraction
    rng = np.random.default_rng([IDENTITY_SEED, identity])
    u = rng.random(16)
    jitter = rng.uniform(-12, 12, (3, 3))
    return Identity(
        identity=identity,
        kind="animal" if animal else "human",
        skin=_pick(_FUR if animal else _SKIN, u[0], jitter[0]),
        hair=_pick(_HAIR, u[1], jitter[1]),
        eye=_pick(_EYES_ANIMAL if animal else _EYES_HUMAN, u[2], jitter[2]),
        aspect=float((0.85 + 0.3 * u[3]) if animal else (0.7 + 0.2 * u[3])),
        eye_spacing=float(0.34 + 0.14 * u[4]),
        eye_size=float(0.8 + 0.4 * u[5]),
        nose=int(u[6] * 3),
        nose_size=float(0.8 + 0.45 * u[7]),
        mouth=int(u[8] * (2 if animal else 3)),
        mouth_width=float(0.3 + 0.25 * u[9]),
        hair_style=int(u[10] * 6),
        accessory=int(u[11] * 6) % 4,  # half of the people wear nothing
        ears=int(u[12] * 3),
        marking=int(u[13] * 5),
        slit_pupils=bool(u[14] < 0.5),
    )


# Drawing helpers. Coordinates are floats in pixel-index units, passed to OpenCV with 4 fractional bits so
# that small faces keep sub-pixel geometry; every primitive is anti-aliased.
_SHIFT = 4
_ONE = 1 << _SHIFT


def _p(x: float, y: float) -> tuple[int, int]:
    return round(x * _ONE), round(y * _ONE)


def _ellipse(
    img: np.ndarray,
    x: float,
    y: float,
    ax: float,
    ay: float,
    colour: tuple[int, ...],
    angle: float = 0.0,
    start: int = 0,
    end: int = 360,
    thickness: int = -1,
) -> None:
    axes = (max(round(ax * _ONE), 1), max(round(ay * _ONE), 1))
    cv2.ellipse(img, _p(x, y), axes, angle, start, end, colour, thickness, cv2.LINE_AA, _SHIFT)


def _line(
    img: np.ndarray, x1: float, y1: float, x2: float, y2: float, colour: tuple[int, ...], thickness: int = 1
) -> None:
    cv2.line(img, _p(x1, y1), _p(x2, y2), colour, thickness, cv2.LINE_AA, _SHIFT)


def _polygon(img: np.ndarray, points: np.ndarray | list[tuple[float, float]], colour: tuple[int, ...]) -> None:
    cv2.fillPoly(img, [np.round(np.asarray(points) * _ONE).astype(np.int32)], colour, cv2.LINE_AA, _SHIFT)


def _shade(c: Colour, f: float) -> Colour:
    return tuple(min(int(v * f), 255) for v in c)


def _mix(a: Colour, b: Colour, t: float) -> Colour:
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b, strict=True))


def _solid(c: Colour) -> tuple[int, int, int, int]:
    """An RGBA colour that also paints the silhouette (alpha) channel."""
    return (*c, 255)


def _eyes(
    img: np.ndarray,
    ident: Identity,
    cx: float,
    ey: float,
    dx: float,
    ew: float,
    eh: float,
    lw: int,
    rng: np.random.Generator,
    animal: bool,
) -> None:
    """Two eyes with gaze and an occasional blink drawn from ``rng``; animal eyes are mostly iris."""
    if rng.random() < 0.08:
        for s in (-1, 1):
            _line(img, cx + s * dx - ew, ey, cx + s * dx + ew, ey, _DARK, lw)
        return
    gx, gy = rng.uniform(-0.35, 0.35) * ew, rng.uniform(-0.2, 0.2) * eh
    for s in (-1, 1):
        x = cx + s * dx
        if animal:
            _ellipse(img, x, ey, ew, eh, ident.eye)
            _ellipse(img, x, ey, ew, eh, _DARK, thickness=max(1, lw // 2))
            px, py = x + gx * 0.4, ey + gy * 0.4
            _ellipse(img, px, py, ew * (0.18 if ident.slit_pupils else 0.45), eh * 0.8, _DARK)
        else:
            _ellipse(img, x, ey, ew, eh, _WHITE)
            px, py = x + gx, ey + gy
            _ellipse(img, px, py, eh * 0.95, eh * 0.95, ident.eye)
            _ellipse(img, px, py, eh * 0.45, eh * 0.45, _DARK)
            _ellipse(img, x, ey, ew, eh, _shade(ident.skin, 0.5), start=180, end=360, thickness=max(1, lw // 2))
        _ellipse(img, px + ew * 0.15, py - eh * 0.3, eh * 0.18, eh * 0.18, _WHITE)


def _human(img: np.ndarray, ident: Identity, c: float, h: float, w: float, rng: np.random.Generator) -> Drawn:
    """Draw an upright human head centred at (c, c) with hair top to chin ``h`` and width about ``w``.

    The silhouette (hair, ears, face) goes into alpha; the returned copy of alpha lets the caller clip the
    details drawn afterwards (fringe, features, glasses) to the head. Also returns the face: the skin oval
    (centre y, half-width, half-height) cut off at mid-forehead, where the eyes lie 40 % of the way down to the
    chin (a face's thirds: hairline, brows, nose, chin), without the hair above and the ears.
    """
    top, chin = c - h / 2, c + h / 2
    fa = w / 2 / 1.12  # face half-width; ears and long hair reach about 1.12 * fa
    lw = max(1, round(h * 0.03))
    style, skin, hair = ident.hair_style, ident.skin, ident.hair
    crown = top + (0.14 * h if style == 5 else 0.0)
    fb = (chin - crown) / 2 if style == 0 else (chin - crown - 0.07 * h) / 2
    fy = chin - fb
    if style == 2:  # long: a squared-off mass of hair behind the head, down to the jaw
        _ellipse(img, c, fy, fa * 1.12, fy - crown, _solid(hair))
        _polygon(
            img,
            [(c - fa * 1.12, fy), (c + fa * 1.12, fy), (c + fa, chin - 0.1 * h), (c - fa, chin - 0.1 * h)],
            _solid(hair),
        )
    else:
        for s in (-1, 1):  # ears
            _ellipse(img, c + s * fa * 0.98, fy + 0.06 * fb, fa * 0.16, fb * 0.22, _solid(_shade(skin, 0.92)))
        if style:
            _ellipse(img, c, fy, fa * 1.05, fy - crown, _solid(hair))
        if style == 3:  # curly: a ring of curls around the crown
            for a in np.linspace(math.pi * 1.05, math.pi * 1.95, 7):
                r = 0.1 * h
                _ellipse(
                    img,
                    c + math.cos(a) * (fa * 1.05 - r),
                    fy + math.sin(a) * (fy - crown - r),
                    r,
                    r,
                    _solid(_shade(hair, 1.12)),
                )
        if style == 5:  # bun
            _ellipse(img, c, top + 0.09 * h, 0.09 * h, 0.09 * h, _solid(hair))
    _ellipse(img, c, fy, fa, fb, _solid(skin))
    alpha = img[:, :, 3].copy()

    if style:  # fringe / hairline over the forehead
        tilt = 14.0 if style == 4 else 0.0
        _ellipse(img, c - tilt * fa / 60, fy - fb * 0.66, fa * 1.02, fb * 0.42, hair, angle=tilt)
    yaw = rng.uniform(-0.12, 0.12) * fa
    x = c + yaw
    ey = fy - 0.12 * fb
    dx, ew = ident.eye_spacing * fa, ident.eye_size * 0.19 * fa
    eh = ew * 0.55
    brow = _shade(hair, 0.8)
    for s in (-1, 1):
        _ellipse(img, x + s * dx, ey - eh * 1.6, ew * 1.1, eh * 1.2, brow, start=200, end=340, thickness=lw)
    _eyes(img, ident, x, ey, dx, ew, eh, lw, rng, animal=False)
    ny, nw = fy + 0.3 * fb, ident.nose_size * 0.13 * fa
    dark = _shade(skin, 0.68)
    if ident.nose == 0:
        _line(img, x + nw * 0.3, ey + eh, x + nw, ny, dark, max(1, lw // 2))
        _line(img, x + nw, ny, x - nw * 0.5, ny, dark, max(1, lw // 2))
    elif ident.nose == 1:
        _ellipse(img, x, ny - 0.05 * fb, nw * 0.8, 0.12 * fb, _shade(skin, 0.9))
        for s in (-1, 1):
            _ellipse(img, x + s * nw * 0.5, ny, nw * 0.28, nw * 0.2, dark)
    else:
        _polygon(img, [(x, ey + eh), (x + nw, ny), (x - nw, ny)], _shade(skin, 0.88))
    my, mw = fy + 0.6 * fb, ident.mouth_width * fa
    if ident.accessory == 2:  # beard: lower face in hair colour, mouth drawn over it
        _ellipse(img, c, fy + 0.3 * fb, fa * 1.0, fb * 0.72, hair, start=0, end=180)
    lips = _mix(skin, (186, 70, 74), 0.5)
    if rng.random() < 0.25:  # open mouth
        _ellipse(img, x, my, mw * 0.7, 0.1 * fb, (70, 22, 28))
        _ellipse(img, x, my - 0.05 * fb, mw * 0.5, 0.03 * fb, _WHITE)
    elif ident.mouth == 0:
        _ellipse(img, x, my - 0.12 * fb, mw, 0.14 * fb, lips, start=20, end=160, thickness=lw)
    elif ident.mouth == 1:
        _ellipse(img, x, my, mw, 0.07 * fb, lips)
    else:
        _line(img, x - mw, my, x + mw, my, _shade(lips, 0.7), lw)
    if ident.accessory == 3:  # moustache
        _ellipse(img, x, my - 0.13 * fb, mw * 0.9, 0.06 * fb, hair)
    elif ident.accessory == 1:  # glasses
        for s in (-1, 1):
            _ellipse(img, x + s * dx, ey, ew * 1.35, ew * 1.1, (30, 30, 34), thickness=lw)
        _line(img, x - dx + ew * 1.35, ey, x + dx - ew * 1.35, ey, (30, 30, 34), lw)
    return alpha, (fy, fa, fb, ey - (chin - ey) / 1.5)


def _animal(img: np.ndarray, ident: Identity, c: float, h: float, w: float, rng: np.random.Generator) -> Drawn:
    """Draw an upright animal head centred at (c, c), ear tips (or crown) to chin ``h``, ear to ear about ``w``.

    Returns the silhouette alpha (ears and head) for clipping the markings and whiskers drawn afterwards, and
    the face oval (centre y, half-width, half-height, top) without the ears.
    """
    top, chin = c - h / 2, c + h / 2
    lw = max(1, round(h * 0.03))
    fur, mark = ident.skin, ident.hair
    inner = (222, 150, 156) if ident.nose == 0 else _shade(fur, 0.7)
    if ident.ears == 2:  # floppy: the head reaches the top, ears hang at the sides
        fa = w / 2 / 1.3
        fb = (chin - top) / 2
        fy = chin - fb
        for s in (-1, 1):
            _ellipse(img, c + s * fa * 1.0, fy + 0.05 * fb, fa * 0.3, fb * 0.75, _solid(mark), angle=-s * 12.0)
    else:
        fa = w / 2 * 0.92
        fb = (chin - top - 0.22 * h) / 2
        fy = chin - fb
        for s in (-1, 1):
            if ident.ears == 0:
                ear = np.array(
                    [(c + s * fa * 0.92, fy - fb * 0.35), (c + s * fa * 0.72, top), (c + s * fa * 0.12, fy - fb * 0.92)]
                )
                _polygon(img, ear, _solid(fur))
                _polygon(img, ear.mean(0) + (ear - ear.mean(0)) * 0.55 + (0, 0.03 * h), inner)
            else:
                r = 0.17 * h
                _ellipse(img, c + s * fa * 0.66, top + r, r, r, _solid(fur))
                _ellipse(img, c + s * fa * 0.66, top + r * 1.1, r * 0.58, r * 0.58, inner)
    _ellipse(img, c, fy, fa, fb, _solid(fur))
    alpha = img[:, :, 3].copy()

    yaw = rng.uniform(-0.1, 0.1) * fa
    x = c + yaw
    ey, dx = fy - 0.15 * fb, ident.eye_spacing * fa * 1.05
    ew = ident.eye_size * 0.15 * fa
    light = _mix(fur, _WHITE, 0.6)
    if ident.marking == 1:  # stripes on the forehead and cheeks
        for k in (-1, 0, 1):
            _line(img, x + k * 0.28 * fa, fy - fb, x + k * 0.2 * fa, fy - 0.55 * fb, mark, lw * 2)
        for s in (-1, 1):
            for k in (0, 1):
                _line(img, c + s * fa, fy + k * 0.2 * fb, c + s * 0.68 * fa, fy + (k * 0.2 + 0.06) * fb, mark, lw * 2)
    elif ident.marking == 2:  # patch over one eye (which one is part of the identity)
        s = 1 if ident.identity % 2 else -1
        _ellipse(img, x + s * dx, ey, ew * 2.2, ew * 1.9, mark, angle=20.0 * s)
    elif ident.marking == 3:  # blaze down the middle
        _ellipse(img, x, fy - 0.25 * fb, 0.16 * fa, 0.7 * fb, light)
    elif ident.marking == 4:  # dark mask over the upper face
        _ellipse(img, x, fy - 0.45 * fb, fa, 0.5 * fb, mark)
    ny = fy + 0.28 * fb
    if ident.mouth == 0:  # two-lobed muzzle
        for s in (-1, 1):
            _ellipse(img, x + s * 0.17 * fa, ny + 0.22 * fb, 0.24 * fa, 0.22 * fb, light)
    else:  # snout
        _ellipse(img, x, ny + 0.2 * fb, 0.38 * fa, 0.34 * fb, light)
    _eyes(img, ident, x, ey, dx, ew, ew * 0.85, lw, rng, animal=True)
    nw = ident.nose_size * 0.12 * fa
    nose = (214, 128, 140) if ident.nose == 0 else _DARK
    if ident.nose == 2:
        _ellipse(img, x, ny, nw * 1.2, nw * 0.75, nose)
    else:
        _polygon(img, [(x - nw, ny - nw * 0.5), (x + nw, ny - nw * 0.5), (x, ny + nw * 0.6)], nose)
    mouth_y = ny + 0.2 * fb
    _line(img, x, ny, x, mouth_y, _DARK, max(1, lw // 2))
    if rng.random() < 0.2:  # open mouth with tongue
        _ellipse(img, x, mouth_y + 0.08 * fb, 0.12 * fa, 0.1 * fb, (200, 80, 96))
    for s in (-1, 1):
        _ellipse(
            img, x + s * 0.1 * fa, mouth_y, 0.1 * fa, 0.07 * fb, _DARK, start=0, end=180, thickness=max(1, lw // 2)
        )
    whisker = _DARK if sum(fur) > 450 else (236, 236, 236)
    for s in (-1, 1):
        for k in (-1, 0, 1):
            _line(img, x + s * 0.3 * fa, ny + (0.16 + 0.06 * k) * fb, c + s * 1.05 * fa, ny + 0.3 * k * fb, whisker)
    return alpha, (fy, fa, fb, fy - fb)


def render_face(
    canvas: np.ndarray,
    ident: Identity,
    center: tuple[float, float],
    size: float,
    angle: float,
    rng: np.random.Generator,
    box: str = "head",
) -> np.ndarray | None:
    """Draw one face of ``ident`` onto ``canvas`` in place and return its box.

    canvas: RGB uint8 HxWx3, modified in place (face alpha-blended with anti-aliased edges).
    ident: the appearance, from :func:`identity_params`.
    center: (x, y) in pixel-edge coordinates where the centre of the upright face lands; it may lie off the
        canvas, the face is clipped.
    size: the longer side in pixels of the upright face (human: hair top to chin; animal: ear tips to chin or
        ear to ear), before rotation.
    angle: in-plane rotation in degrees, counter-clockwise as displayed (OpenCV convention).
    rng: draws only per-appearance variation (gaze, blink, open mouth, a yaw-like feature shift, a few percent
        of aspect); to draw an unchanging face across video frames, pass a generator seeded the same way each
        frame.
    box: ``"head"`` boxes the whole silhouette, hair and ears included; ``"face"`` the face oval alone, forehead
        to chin and cheek to cheek, as WIDER FACE, dlib's and most cat-face annotations box a face.

    Returns the tight axis-aligned xyxy box (float32 [4], pixel edges) of the visible silhouette (or face oval)
    after rotation and clipping, or ``None`` when no part of it lands on the canvas.
    """
    if box not in BOX_KINDS:
        raise ValueError(f"box must be one of {BOX_KINDS}, got {box!r}")
    aspect = ident.aspect * rng.uniform(0.94, 1.06)
    h, w = (size, size * aspect) if aspect <= 1 else (size / aspect, size)
    side = math.ceil(size) + 4  # room for anti-aliased edges
    c = (side - 1) / 2
    patch = np.zeros((side, side, 4), np.uint8)
    patch[:, :, :3] = ident.skin  # edges fade from the face colour, not from black
    draw = _animal if ident.kind == "animal" else _human
    patch[:, :, 3], (fy, fa, fb, top) = draw(patch, ident, c, h, w, rng)

    rows, cols = canvas.shape[:2]
    cx, cy = center
    rad = math.radians(angle)
    reach = side / 2 * (abs(math.cos(rad)) + abs(math.sin(rad))) + 1
    x0, y0 = max(int(cx - reach), 0), max(int(cy - reach), 0)
    x1, y1 = min(int(cx + reach) + 1, cols), min(int(cy + reach) + 1, rows)
    if x1 <= x0 or y1 <= y0:
        return None
    m = cv2.getRotationMatrix2D((c, c), angle, 1.0)
    m[:, 2] += (cx - 0.5 - x0 - c, cy - 0.5 - y0 - c)
    warped = cv2.warpAffine(patch, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR)
    alpha = warped[:, :, 3]
    boxed = alpha
    if box == "face":
        oval = np.zeros((side, side), np.uint8)
        _ellipse(oval, c, fy, fa, fb, (255,))
        oval[: max(round(top), 0)] = 0
        boxed = cv2.warpAffine(oval, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR)
    bx, by, bw, bh = cv2.boundingRect(cv2.threshold(boxed, 127, 255, cv2.THRESH_BINARY)[1])
    if bw == 0 or bh == 0:
        return None
    weight = alpha.astype(np.float32) * (1.0 / 255.0)
    roi = canvas[y0:y1, x0:x1]
    roi[:] = cv2.blendLinear(cv2.cvtColor(warped, cv2.COLOR_RGBA2RGB), roi, weight, 1.0 - weight)
    return np.array([x0 + bx, y0 + by, x0 + bx + bw, y0 + by + bh], np.float32)


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
    return tuple(int(v) for v in rng.integers(0, 256, 3))


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
            _ellipse(img, x + dx * s, y + dy * s, r * s, r * s, colour)
        return
    _ellipse(img, x, y, ax, ay, colour, angle=angle)
    dark = _shade(colour, rng.uniform(0.2, 0.6))
    if variant == 1:  # dots scattered uniformly, so they form no eye/nose/mouth pattern
        for r, t, d in rng.uniform((0.0, 0, 0.04), (0.8, 2 * math.pi, 0.12), (int(rng.integers(1, 7)), 3)):
            _ellipse(img, x + r * ax * math.cos(t), y + r * ay * math.sin(t), d * s, d * s, dark)
    elif variant == 2:
        for _ in range(rng.integers(1, 4)):
            x1, y1, x2, y2 = rng.uniform(-0.4, 0.4, 4) * s
            _line(img, x + x1, y + y1, x + x2, y + y2, dark, max(1, round(s * 0.05)))


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
        cv2.rectangle(img, _p(xa, ya), _p(xb, yb), colour, -1, cv2.LINE_AA, _SHIFT)
        return f
    # half an ellipse inside the box: pi * a * b / 2 = f * w * h with b half the box's edge length
    if horizontal:
        a, b = 4 * f * w / math.pi, h / 2
        _ellipse(img, x1 if side == 0 else x2, (y1 + y2) / 2, a, b, colour)
    else:
        a, b = w / 2, 4 * f * h / math.pi
        _ellipse(img, (x1 + x2) / 2, y1 if side == 2 else y2, a, b, colour)
    return f


def check_parameters(owner: str, animal_fraction: float, **minimums: tuple[int, int]) -> None:
    """Reject generator parameters below their minimum (``name=(value, minimum)``), naming the parameter."""
    for name, (value, low) in minimums.items():
        if value < low:
            raise ValueError(f"{owner}: {name} must be >= {low}, got {value}")
    if not 0.0 <= animal_fraction <= 1.0:
        raise ValueError(f"{owner}: animal_fraction must be in [0, 1], got {animal_fraction}")


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
            raise ValueError(f"SyntheticFaces: box must be one of {BOX_KINDS}, got {box!r}")
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
