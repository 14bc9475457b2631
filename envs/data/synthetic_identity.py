"""Who a synthetic face is: the appearance of identity ``k``, the same in every process and every dataset seed.

What makes a face recognisable (kind, skin/fur and hair colours, hair style, ears, markings, feature geometry) comes
from a generator keyed by a fixed constant and the identity number, never by the dataset seed: identity ``k`` looks
the same in the training seed and in a held-out seed, which metric learning relies on (see :mod:`.synthetic`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from facebox.envs.data.drawing import Colour

__all__ = ["IDENTITY_SEED", "Identity", "identity_params"]

IDENTITY_SEED = 20_240_611  # fixed, so identity k has one appearance whatever the dataset seed
_GOLDEN = 0.6180339887498949

_SKIN = np.array([(255, 224, 196), (241, 194, 160), (224, 172, 130), (198, 134, 92), (141, 85, 54), (94, 58, 38)])
_HAIR = np.array(
    [(28, 24, 22), (70, 45, 30), (112, 72, 42), (150, 72, 36), (214, 180, 112), (170, 168, 162), (232, 228, 218)]
)
_FUR = np.array(
    [(222, 132, 52), (204, 162, 112), (122, 82, 50), (42, 36, 36), (142, 140, 136), (236, 230, 220), (218, 172, 84)]
)
_EYES_HUMAN = np.array([(92, 56, 30), (60, 40, 25), (70, 120, 180), (80, 130, 80), (120, 120, 110), (140, 110, 60)])
_EYES_ANIMAL = np.array([(222, 198, 64), (122, 182, 64), (204, 132, 40), (100, 62, 30), (100, 160, 220)])


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
