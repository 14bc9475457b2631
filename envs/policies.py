"""Reference policies in numpy: a uniform random policy and the greedy IoU oracle.

Both are called as ``policy(env, obs)`` like any agent, but act on the *unwrapped* env (the oracle reads the
ground truth through the public ``BoxEnv.target`` and ``BoxEnv.ending_is_right``), so they serve as the floor and
the ceiling of every benchmark, and the oracle supplies the expert actions for behaviour cloning.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from facebox.envs.boxes import iou
from facebox.envs.core import BoxEnv

__all__ = ["RandomPolicy", "GreedyOracle", "POLICIES"]


class RandomPolicy:
    """Uniform over the env's action space, drawing from the generator it is given."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def __call__(self, env: BoxEnv, obs=None):
        space = env.unwrapped.action_space
        if hasattr(space, "n"):
            return int(self.rng.integers(space.n))
        return self.rng.uniform(space.low, space.high).astype(space.dtype)


class GreedyOracle:
    """Take the move with the largest IoU gain; end (trigger/stop) as soon as ending is rewarded.

    The gain of a move counts the best IoU reachable with it and one more move: with steps of 20 % of the
    box, a face on the image edge is often reachable only through a move that first loses IoU (shrink,
    then shift), where one-step greed oscillates. Ties go to the lowest action index, so the oracle is
    deterministic. When no pair of moves improves the IoU, the oracle takes the move that brings the box
    corners closest to the target's.
    """

    def move_gains(self, env: BoxEnv) -> np.ndarray:
        """Each move's look-ahead score: the best IoU reachable with it and one more move (a hair more for the
        move that already gains on its own, which wins ties).
        """
        env = env.unwrapped
        at = env.action_type
        candidates = at.candidate_boxes(env.box, env.bounds)  # [M, 4]
        second = at.candidate_boxes(candidates, env.bounds)  # [M, M, 4]
        one = iou(candidates, env.targets).max(axis=1)
        two = iou(second.reshape(-1, 4), env.targets).max(axis=1).reshape(len(one), -1).max(axis=1)
        return np.maximum(one, two) + 1e-6 * one

    def discrete_action(self, env: BoxEnv) -> int:
        env = env.unwrapped
        at = env.action_type
        if env.ending_is_right:
            return at.terminal_action
        gains = self.move_gains(env)
        best = int(np.argmax(gains))
        if gains[best] <= env.iou + 1e-9:
            candidates = at.candidate_boxes(env.box, env.bounds)
            best = int(np.argmin(np.abs(candidates - env.target).sum(axis=1)))
        return at.moves[best]

    def __call__(self, env: BoxEnv, obs=None):
        index = self.discrete_action(env)
        at = env.unwrapped.action_type
        return at.move_action(index) if hasattr(at, "move_action") else index


# The reference policies by the name tables and command lines use, built from a seed.
POLICIES: dict[str, Callable[[int], Callable]] = {
    "oracle": lambda seed: GreedyOracle(),
    "random": lambda seed: RandomPolicy(np.random.default_rng(seed)),
}
