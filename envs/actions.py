"""Action types: how an agent's action changes the box.

Each type exposes the same small interface so that environments, the greedy oracle and guided exploration
never special-case an action set:

- ``space()`` — the Gymnasium action space;
- ``apply(box, action, bounds)`` — the new box and whether the action ends the box's refinement
  (trigger/stop);
- ``moves`` / ``candidate_boxes(box, bounds)`` — the discrete move set (for the discrete types, the actions
  themselves) and the box each move would give, for ``info["positive_actions"]`` and the oracle;
- ``terminal_action`` — the action that ends refinement (trigger / stop);
- ``encode(action)`` — a fixed-size float vector for the action history.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral

import numpy as np
from gymnasium import spaces

from facebox.config import Configurable, number
from facebox.envs.boxes import legalize

__all__ = ["ACTION_TYPES", "HALF", "ActionType", "LocalizationActions", "ContinuousActions"]


class ActionType(Configurable):
    """A discrete set of box moves plus one terminal action, described by a table.

    ``table`` rows are ``(name, coefficients)``: the move adds ``cx * step_x + cy * step_y`` to
    ``x1, y1, x2, y2`` with ``step = alpha * (w, h)`` of the current box; ``None`` marks the terminal action.
    """

    defaults = {"alpha": 0.2, "min_step": 0.0}
    rules = {"alpha": number(gt=0, le=1), "min_step": number(ge=0)}  # alpha: a fraction of the box
    table: tuple[tuple[str, tuple | None], ...] = ()

    def __init__(self, section: Mapping, where: str = "config['action']") -> None:
        super().__init__(section, where)
        names = [name for name, _ in self.table]
        self.names = tuple(names)
        self.moves = tuple(i for i, (_, c) in enumerate(self.table) if c is not None)
        self.terminal_action = next(i for i, (_, c) in enumerate(self.table) if c is None)
        coeffs = np.array([self.table[i][1] for i in self.moves], dtype=np.float64)  # [M, 2, 4]
        self._cx, self._cy = coeffs[:, 0, :], coeffs[:, 1, :]
        if self._cx[:, 1::2].any() or self._cy[:, 0::2].any():
            raise ValueError(f"{type(self).__name__}: a move must step x1, x2 by the width and y1, y2 by the height")
        # One coefficient per coordinate (the other term is an exact 0): the step is coefficient x (sx, sy, sx, sy).
        self._coeff = self._cx + self._cy

    def space(self) -> spaces.Space:
        return spaces.Discrete(len(self.table))

    def mirrored(self) -> np.ndarray:
        """``perm[a]`` = the action that does in the left-right mirrored image what ``a`` does in this one (``right``
        <-> ``left``; a symmetric move maps to itself), e.g. to augment demonstrations by mirroring them.

        Mirroring sends x1, x2 to -x2, -x1, so a move adding ``(d1, d2, d3, d4)`` to the corners becomes one adding
        ``(-d3, d2, -d1, d4)``; a table without that move has no mirror, which is an error naming the move.
        """
        coeffs = np.stack([self._cx, self._cy], axis=1)  # M, 2, 4
        mirrors = coeffs[:, :, [2, 1, 0, 3]] * np.array([-1, 1, -1, 1])
        perm = np.arange(len(self.table))
        for j, i in enumerate(self.moves):
            match = np.flatnonzero((coeffs == mirrors[j]).all(axis=(1, 2)))
            if len(match) == 0:
                raise ValueError(f"{type(self).__name__}: the mirror image of move {self.names[i]!r} is not an action")
            perm[i] = self.moves[match[0]]
        return perm

    def check(self, action) -> None:
        """Reject anything but an integer index in range (a 0-d integer array counts, as SB3's ``predict`` returns
        one) with a message saying what was expected. ``int(action) == action`` would let ``True`` through as
        action 1 and ``2.0`` as action 2, hiding an agent wired to the wrong output.
        """
        n = len(self.table)
        value = action.item() if isinstance(action, np.ndarray) and action.shape == () else action
        if isinstance(value, bool) or not isinstance(value, Integral) or not 0 <= value < n:
            raise ValueError(
                f"action {action!r} ({type(action).__name__}) is not in Discrete({n}): expected an integer in "
                f"0..{n - 1} ({', '.join(self.names)})"
            )

    def _steps(self, box: np.ndarray) -> np.ndarray:
        """The move steps ``[..., 2]`` (x, y) of boxes ``[..., 4]``: alpha of width and height, at least min_step."""
        return np.maximum(self.config["alpha"] * (box[..., 2:] - box[..., :2]), self.config["min_step"])

    def candidate_boxes(self, box: np.ndarray, bounds: tuple[float, float, float]) -> np.ndarray:
        """Boxes ``[..., M, 4]`` that each move would give from ``box [..., 4]`` (any batch shape)."""
        step = self._steps(box)
        return legalize(box[..., None, :] + self._coeff * np.concatenate([step, step], axis=-1)[..., None, :], *bounds)

    def apply(
        self, box: np.ndarray, action, bounds: tuple[float, float, float], candidates: np.ndarray | None = None
    ) -> tuple[np.ndarray, bool]:
        """The box after ``action`` and whether it ends refinement; ``candidates`` = this box's
        ``candidate_boxes``, when the caller already has them.
        """
        action = int(action)
        if action == self.terminal_action:
            return box, True
        if candidates is None:
            candidates = self.candidate_boxes(box, bounds)
        return candidates[self.moves.index(action)].copy(), False

    encoding_low = 0.0

    @property
    def encoding_size(self) -> int:
        return len(self.table)

    def encode(self, action) -> np.ndarray:
        out = np.zeros(len(self.table), np.float32)
        out[int(action)] = 1.0
        return out

    def name_of(self, action) -> str:
        return self.names[int(action)]


HALF = 0.5  # scale moves change each side by half the step, so the box grows/shrinks by alpha in total


class LocalizationActions(ActionType):
    """Caicedo & Lazebnik's 9 actions; each move changes the box by ``alpha`` of its current width/height.

    ``fatter`` lowers the height (the box gets relatively wider), ``taller`` lowers the width.
    """

    table = (
        ("right", ((1, 0, 1, 0), (0, 0, 0, 0))),
        ("left", ((-1, 0, -1, 0), (0, 0, 0, 0))),
        ("up", ((0, 0, 0, 0), (0, -1, 0, -1))),
        ("down", ((0, 0, 0, 0), (0, 1, 0, 1))),
        ("bigger", ((-HALF, 0, HALF, 0), (0, -HALF, 0, HALF))),
        ("smaller", ((HALF, 0, -HALF, 0), (0, HALF, 0, -HALF))),
        ("fatter", ((0, 0, 0, 0), (0, HALF, 0, -HALF))),
        ("taller", ((HALF, 0, -HALF, 0), (0, 0, 0, 0))),
        ("trigger", None),
    )


class ContinuousActions(LocalizationActions):
    """``Box(5)`` in [-1, 1]: centre shift (x, y) and size change (w, h) in units of ``alpha`` of the current
    box, and a trigger that fires when the fifth component exceeds ``trigger_threshold``.

    The discrete moves stay available (``candidate_boxes``) so the oracle and ``info["positive_actions"]``
    work unchanged; :meth:`move_action` gives the continuous action equivalent to a discrete move.
    """

    defaults = {**LocalizationActions.defaults, "trigger_threshold": 0.0}
    # The fifth component is clipped to [-1, 1]: a threshold of 1 or more could never fire.
    rules = {**LocalizationActions.rules, "trigger_threshold": number(ge=-1, lt=1)}

    def space(self) -> spaces.Space:
        return spaces.Box(-1.0, 1.0, shape=(5,), dtype=np.float32)

    def check(self, action) -> None:
        a = np.asarray(action)
        if a.shape != (5,) or not np.issubdtype(a.dtype, np.number) or not np.isfinite(a).all():
            raise ValueError(f"action {action!r} is not a finite vector of shape (5,) for {self.space()}")

    def apply(
        self, box: np.ndarray, action, bounds: tuple[float, float, float], candidates: np.ndarray | None = None
    ) -> tuple[np.ndarray, bool]:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        if a[4] > self.config["trigger_threshold"]:
            return box, True
        sx, sy = self._steps(box)
        w, h = (box[2] - box[0]) + a[2] * sx, (box[3] - box[1]) + a[3] * sy
        cx, cy = (box[0] + box[2]) / 2 + a[0] * sx, (box[1] + box[3]) / 2 + a[1] * sy
        return legalize(np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]), *bounds), False

    def move_action(self, index: int) -> np.ndarray:
        """The continuous action that reproduces discrete action ``index`` (a move or the trigger)."""
        if index == self.terminal_action:
            return np.array([0, 0, 0, 0, 1], np.float32)
        j = self.moves.index(index)
        cx, cy = self._cx[j], self._cy[j]
        return np.array([(cx[0] + cx[2]) / 2, (cy[1] + cy[3]) / 2, cx[2] - cx[0], cy[3] - cy[1], -1], np.float32)

    encoding_low = -1.0

    @property
    def encoding_size(self) -> int:
        return 5

    def encode(self, action) -> np.ndarray:
        return np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)

    def name_of(self, action) -> str:
        return "trigger" if np.asarray(action)[4] > self.config["trigger_threshold"] else "move"


ACTION_TYPES: dict[str, type[ActionType]] = {"discrete": LocalizationActions, "continuous": ContinuousActions}
