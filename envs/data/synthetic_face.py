"""Drawing one synthetic face: a human or animal head on an RGBA patch, rotated and blended onto a canvas, and its
exact box (the bounding box of the warped silhouette, or of the face oval alone).

Why a patch: the head is drawn upright where its geometry is simple, and its alpha (the silhouette, hair and ears
included) gives both the blend weight and a tight box for any rotation and for faces cut by the image border.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from facebox.config import ConfigError
from facebox.envs.data.drawing import Colour, ellipse, line, mix, polygon, shade, solid
from facebox.envs.data.synthetic_identity import Identity

__all__ = ["BOX_KINDS", "render_face"]

Drawn = tuple[np.ndarray, tuple[float, float, float, float]]  # silhouette alpha; face (oval centre y, half-axes, top)
BOX_KINDS = ("head", "face")

_WHITE: Colour = (245, 244, 238)
_DARK: Colour = (22, 18, 18)


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
            line(img, cx + s * dx - ew, ey, cx + s * dx + ew, ey, _DARK, lw)
        return
    gx, gy = rng.uniform(-0.35, 0.35) * ew, rng.uniform(-0.2, 0.2) * eh
    for s in (-1, 1):
        x = cx + s * dx
        if animal:
            ellipse(img, x, ey, ew, eh, ident.eye)
            ellipse(img, x, ey, ew, eh, _DARK, thickness=max(1, lw // 2))
            px, py = x + gx * 0.4, ey + gy * 0.4
            ellipse(img, px, py, ew * (0.18 if ident.slit_pupils else 0.45), eh * 0.8, _DARK)
        else:
            ellipse(img, x, ey, ew, eh, _WHITE)
            px, py = x + gx, ey + gy
            ellipse(img, px, py, eh * 0.95, eh * 0.95, ident.eye)
            ellipse(img, px, py, eh * 0.45, eh * 0.45, _DARK)
            ellipse(img, x, ey, ew, eh, shade(ident.skin, 0.5), start=180, end=360, thickness=max(1, lw // 2))
        ellipse(img, px + ew * 0.15, py - eh * 0.3, eh * 0.18, eh * 0.18, _WHITE)


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
        ellipse(img, c, fy, fa * 1.12, fy - crown, solid(hair))
        polygon(
            img,
            [(c - fa * 1.12, fy), (c + fa * 1.12, fy), (c + fa, chin - 0.1 * h), (c - fa, chin - 0.1 * h)],
            solid(hair),
        )
    else:
        for s in (-1, 1):  # ears
            ellipse(img, c + s * fa * 0.98, fy + 0.06 * fb, fa * 0.16, fb * 0.22, solid(shade(skin, 0.92)))
        if style:
            ellipse(img, c, fy, fa * 1.05, fy - crown, solid(hair))
        if style == 3:  # curly: a ring of curls around the crown
            for a in np.linspace(math.pi * 1.05, math.pi * 1.95, 7):
                r = 0.1 * h
                ellipse(
                    img,
                    c + math.cos(a) * (fa * 1.05 - r),
                    fy + math.sin(a) * (fy - crown - r),
                    r,
                    r,
                    solid(shade(hair, 1.12)),
                )
        if style == 5:  # bun
            ellipse(img, c, top + 0.09 * h, 0.09 * h, 0.09 * h, solid(hair))
    ellipse(img, c, fy, fa, fb, solid(skin))
    alpha = img[:, :, 3].copy()

    if style:  # fringe / hairline over the forehead
        tilt = 14.0 if style == 4 else 0.0
        ellipse(img, c - tilt * fa / 60, fy - fb * 0.66, fa * 1.02, fb * 0.42, hair, angle=tilt)
    yaw = rng.uniform(-0.12, 0.12) * fa
    x = c + yaw
    ey = fy - 0.12 * fb
    dx, ew = ident.eye_spacing * fa, ident.eye_size * 0.19 * fa
    eh = ew * 0.55
    brow = shade(hair, 0.8)
    for s in (-1, 1):
        ellipse(img, x + s * dx, ey - eh * 1.6, ew * 1.1, eh * 1.2, brow, start=200, end=340, thickness=lw)
    _eyes(img, ident, x, ey, dx, ew, eh, lw, rng, animal=False)
    ny, nw = fy + 0.3 * fb, ident.nose_size * 0.13 * fa
    dark = shade(skin, 0.68)
    if ident.nose == 0:
        line(img, x + nw * 0.3, ey + eh, x + nw, ny, dark, max(1, lw // 2))
        line(img, x + nw, ny, x - nw * 0.5, ny, dark, max(1, lw // 2))
    elif ident.nose == 1:
        ellipse(img, x, ny - 0.05 * fb, nw * 0.8, 0.12 * fb, shade(skin, 0.9))
        for s in (-1, 1):
            ellipse(img, x + s * nw * 0.5, ny, nw * 0.28, nw * 0.2, dark)
    else:
        polygon(img, [(x, ey + eh), (x + nw, ny), (x - nw, ny)], shade(skin, 0.88))
    my, mw = fy + 0.6 * fb, ident.mouth_width * fa
    if ident.accessory == 2:  # beard: lower face in hair colour, mouth drawn over it
        ellipse(img, c, fy + 0.3 * fb, fa * 1.0, fb * 0.72, hair, start=0, end=180)
    lips = mix(skin, (186, 70, 74), 0.5)
    if rng.random() < 0.25:  # open mouth
        ellipse(img, x, my, mw * 0.7, 0.1 * fb, (70, 22, 28))
        ellipse(img, x, my - 0.05 * fb, mw * 0.5, 0.03 * fb, _WHITE)
    elif ident.mouth == 0:
        ellipse(img, x, my - 0.12 * fb, mw, 0.14 * fb, lips, start=20, end=160, thickness=lw)
    elif ident.mouth == 1:
        ellipse(img, x, my, mw, 0.07 * fb, lips)
    else:
        line(img, x - mw, my, x + mw, my, shade(lips, 0.7), lw)
    if ident.accessory == 3:  # moustache
        ellipse(img, x, my - 0.13 * fb, mw * 0.9, 0.06 * fb, hair)
    elif ident.accessory == 1:  # glasses
        for s in (-1, 1):
            ellipse(img, x + s * dx, ey, ew * 1.35, ew * 1.1, (30, 30, 34), thickness=lw)
        line(img, x - dx + ew * 1.35, ey, x + dx - ew * 1.35, ey, (30, 30, 34), lw)
    return alpha, (fy, fa, fb, ey - (chin - ey) / 1.5)


def _animal(img: np.ndarray, ident: Identity, c: float, h: float, w: float, rng: np.random.Generator) -> Drawn:
    """Draw an upright animal head centred at (c, c), ear tips (or crown) to chin ``h``, ear to ear about ``w``.

    Returns the silhouette alpha (ears and head) for clipping the markings and whiskers drawn afterwards, and
    the face oval (centre y, half-width, half-height, top) without the ears.
    """
    top, chin = c - h / 2, c + h / 2
    lw = max(1, round(h * 0.03))
    fur, mark = ident.skin, ident.hair
    inner = (222, 150, 156) if ident.nose == 0 else shade(fur, 0.7)
    if ident.ears == 2:  # floppy: the head reaches the top, ears hang at the sides
        fa = w / 2 / 1.3
        fb = (chin - top) / 2
        fy = chin - fb
        for s in (-1, 1):
            ellipse(img, c + s * fa * 1.0, fy + 0.05 * fb, fa * 0.3, fb * 0.75, solid(mark), angle=-s * 12.0)
    else:
        fa = w / 2 * 0.92
        fb = (chin - top - 0.22 * h) / 2
        fy = chin - fb
        for s in (-1, 1):
            if ident.ears == 0:
                ear = np.array(
                    [(c + s * fa * 0.92, fy - fb * 0.35), (c + s * fa * 0.72, top), (c + s * fa * 0.12, fy - fb * 0.92)]
                )
                polygon(img, ear, solid(fur))
                polygon(img, ear.mean(0) + (ear - ear.mean(0)) * 0.55 + (0, 0.03 * h), inner)
            else:
                r = 0.17 * h
                ellipse(img, c + s * fa * 0.66, top + r, r, r, solid(fur))
                ellipse(img, c + s * fa * 0.66, top + r * 1.1, r * 0.58, r * 0.58, inner)
    ellipse(img, c, fy, fa, fb, solid(fur))
    alpha = img[:, :, 3].copy()

    yaw = rng.uniform(-0.1, 0.1) * fa
    x = c + yaw
    ey, dx = fy - 0.15 * fb, ident.eye_spacing * fa * 1.05
    ew = ident.eye_size * 0.15 * fa
    light = mix(fur, _WHITE, 0.6)
    if ident.marking == 1:  # stripes on the forehead and cheeks
        for k in (-1, 0, 1):
            line(img, x + k * 0.28 * fa, fy - fb, x + k * 0.2 * fa, fy - 0.55 * fb, mark, lw * 2)
        for s in (-1, 1):
            for k in (0, 1):
                line(img, c + s * fa, fy + k * 0.2 * fb, c + s * 0.68 * fa, fy + (k * 0.2 + 0.06) * fb, mark, lw * 2)
    elif ident.marking == 2:  # patch over one eye (which one is part of the identity)
        s = 1 if ident.identity % 2 else -1
        ellipse(img, x + s * dx, ey, ew * 2.2, ew * 1.9, mark, angle=20.0 * s)
    elif ident.marking == 3:  # blaze down the middle
        ellipse(img, x, fy - 0.25 * fb, 0.16 * fa, 0.7 * fb, light)
    elif ident.marking == 4:  # dark mask over the upper face
        ellipse(img, x, fy - 0.45 * fb, fa, 0.5 * fb, mark)
    ny = fy + 0.28 * fb
    if ident.mouth == 0:  # two-lobed muzzle
        for s in (-1, 1):
            ellipse(img, x + s * 0.17 * fa, ny + 0.22 * fb, 0.24 * fa, 0.22 * fb, light)
    else:  # snout
        ellipse(img, x, ny + 0.2 * fb, 0.38 * fa, 0.34 * fb, light)
    _eyes(img, ident, x, ey, dx, ew, ew * 0.85, lw, rng, animal=True)
    nw = ident.nose_size * 0.12 * fa
    nose = (214, 128, 140) if ident.nose == 0 else _DARK
    if ident.nose == 2:
        ellipse(img, x, ny, nw * 1.2, nw * 0.75, nose)
    else:
        polygon(img, [(x - nw, ny - nw * 0.5), (x + nw, ny - nw * 0.5), (x, ny + nw * 0.6)], nose)
    mouth_y = ny + 0.2 * fb
    line(img, x, ny, x, mouth_y, _DARK, max(1, lw // 2))
    if rng.random() < 0.2:  # open mouth with tongue
        ellipse(img, x, mouth_y + 0.08 * fb, 0.12 * fa, 0.1 * fb, (200, 80, 96))
    for s in (-1, 1):
        ellipse(img, x + s * 0.1 * fa, mouth_y, 0.1 * fa, 0.07 * fb, _DARK, start=0, end=180, thickness=max(1, lw // 2))
    whisker = _DARK if sum(fur) > 450 else (236, 236, 236)
    for s in (-1, 1):
        for k in (-1, 0, 1):
            line(img, x + s * 0.3 * fa, ny + (0.16 + 0.06 * k) * fb, c + s * 1.05 * fa, ny + 0.3 * k * fb, whisker)
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
        raise ConfigError(f"render_face: box must be one of {BOX_KINDS}, got {box!r}")
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
        ellipse(oval, c, fy, fa, fb, (255,))
        oval[: max(round(top), 0)] = 0
        boxed = cv2.warpAffine(oval, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR)
    bx, by, bw, bh = cv2.boundingRect(cv2.threshold(boxed, 127, 255, cv2.THRESH_BINARY)[1])
    if bw == 0 or bh == 0:
        return None
    weight = alpha.astype(np.float32) * (1.0 / 255.0)
    roi = canvas[y0:y1, x0:x1]
    roi[:] = cv2.blendLinear(cv2.cvtColor(warped, cv2.COLOR_RGBA2RGB), roi, weight, 1.0 - weight)
    return np.array([x0 + bx, y0 + by, x0 + bx + bw, y0 + by + bh], np.float32)
