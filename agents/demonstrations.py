"""Demonstrations of the greedy oracle for the warm start: the states, their labels, their mirror images.

:func:`collect_demonstrations` runs the oracle (or, in DAgger rounds, the learner) over whole episodes and writes
the states into arrays allocated once; :class:`Mirror` doubles them for free with the left-right mirror image.
The policy is only asked to ``predict``: this is the data side of :mod:`facebox.agents.imitation`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import gymnasium as gym
import numpy as np
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first

from facebox.envs.policies import GreedyOracle

__all__ = ["GEOMETRY_SIZE", "GEOMETRY_RANGE", "box_geometry", "Demonstrations", "Mirror", "collect_demonstrations"]


GEOMETRY_SIZE = 5  # four target corners and the IoU
GEOMETRY_RANGE = (-2.0, 3.0)  # target corners beyond 2 box sizes away carry no useful precision


def box_geometry(env: gym.Env) -> np.ndarray:
    """The target face's corners in the current box's frame (0..1 inside the box) and the IoU: what an agent must
    read from its observation to act, as regression targets.
    """
    base = env.unwrapped
    box, target = base.box, base.target
    size = np.tile(box[2:] - box[:2], 2)
    corners = (target - np.tile(box[:2], 2)) / size
    return np.clip(np.append(corners, base.iou), *GEOMETRY_RANGE).astype(np.float32)


@dataclasses.dataclass
class Demonstrations:
    """States with the oracle's action for each, the action the driver took there, the discounted return that
    followed (whole episodes only, so every return is complete) and the state's :func:`box_geometry`.
    """

    observations: dict[str, np.ndarray]
    labels: np.ndarray
    actions: np.ndarray
    returns: np.ndarray
    geometry: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def write(self, start: int, other: Demonstrations) -> None:
        """Copy ``other`` in at rows ``start, start + 1, ...``, wrapping around (a ring buffer)."""
        idx = (start + np.arange(len(other))) % len(self)
        for k, v in self.observations.items():
            v[idx] = other.observations[k]
        for f in _ARRAYS:
            getattr(self, f)[idx] = getattr(other, f)

    @classmethod
    def empty_like(cls, other: Demonstrations, size: int) -> Demonstrations:
        def blank(v: np.ndarray) -> np.ndarray:
            return np.empty((size, *v.shape[1:]), v.dtype)

        return cls({k: blank(v) for k, v in other.observations.items()}, *(blank(getattr(other, f)) for f in _ARRAYS))

    def batch(self, idx: np.ndarray) -> tuple[dict[str, np.ndarray], ...]:
        return ({k: v[idx] for k, v in self.observations.items()}, *(getattr(self, f)[idx] for f in _ARRAYS))

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array by a flat name (``observations/KEY`` for the observation keys), for saving."""
        return {
            **{f"observations/{k}": v for k, v in self.observations.items()},
            **{f: getattr(self, f) for f in _ARRAYS},
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Demonstrations:
        prefix = "observations/"
        observations = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        return cls(observations, *(arrays[f] for f in _ARRAYS))


_ARRAYS = ("labels", "actions", "returns", "geometry")


@dataclasses.dataclass(frozen=True)
class Mirror:
    """Left-right mirroring of demonstration batches: the same task in the mirror image, labelled for free.

    A face on the left that calls for ``left`` is, mirrored, a face on the right that calls for ``right``: image
    keys are flipped along their width, the action history, labels and actions permuted by
    :meth:`ActionType.mirrored`, and the geometry's x corners mirrored (the returns stay). Cloning on a random
    half of each batch mirrored generalises better (docs/experiments.md, 3.6).
    """

    actions: np.ndarray  # the permutation
    width_axes: dict[str, int]  # image key -> its width axis in a batch
    history: str | None  # the key of the one-hot action history, if any

    @classmethod
    def of(cls, env: gym.Env) -> Mirror:
        base = env.unwrapped
        perm, space = base.action_type.mirrored(), env.observation_space
        width_axes, history = {}, None
        for key, sub in space.spaces.items():
            if is_image_space(sub):
                width_axes[key] = 3 if is_image_space_channels_first(sub) else 2
            elif key == "history" and base.action_type.encoding_size == len(perm):  # one-hot actions
                history = key
            else:
                raise ValueError(f"cannot mirror observation key {key!r} ({sub}): only images and the history")
        return cls(perm, width_axes, history)

    def __call__(self, obs: dict[str, np.ndarray], labels, actions, returns, geometry, rows: np.ndarray) -> tuple:
        """The batch with ``rows`` (a boolean mask) mirrored; the inputs are left as they are."""
        obs = {key: value.copy() for key, value in obs.items()}
        for key, axis in self.width_axes.items():
            obs[key][rows] = np.flip(obs[key][rows], axis=axis)
        if self.history is not None:  # one one-hot block per remembered action
            blocks = obs[self.history][rows].reshape(int(rows.sum()), -1, len(self.actions))
            obs[self.history][rows] = blocks[..., self.actions].reshape(len(blocks), -1)
        labels, actions, geometry = labels.copy(), actions.copy(), geometry.copy()
        labels[rows], actions[rows] = self.actions[labels[rows]], self.actions[actions[rows]]
        geometry[np.ix_(rows, [0, 2])] = 1 - geometry[np.ix_(rows, [2, 0])]  # GEOMETRY_RANGE is symmetric about 0.5
        return obs, labels, actions, returns, geometry


def collect_demonstrations(
    policy,
    envs: list[gym.Env],
    steps: int,
    learner_drives: bool,
    seed: int,
    gamma: float,
    progress: Callable[[int], None] | None = None,
) -> Demonstrations:
    """``steps`` states from whole episodes, the oracle or ``policy`` (DAgger) choosing the moves;
    ``progress(states)`` is called after every step of the envs with the number of states recorded so far.

    Each finished episode is written straight into arrays allocated once for all ``steps`` states: stacking a
    list of per-state arrays at the end would hold every glimpse twice (at 128 px, 50k states are 2.5 GB a copy).
    """
    oracle = GreedyOracle()
    obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    running: list[list[tuple]] = [[] for _ in envs]  # (obs, label, action, reward, geometry) of each episode
    data, n = None, 0
    while n < steps:
        labels = [oracle.discrete_action(env) for env in envs]
        actions = labels
        if learner_drives:
            actions = policy.predict({k: np.stack([o[k] for o in obs]) for k in obs[0]}, deterministic=True)[0]
        for i, env in enumerate(envs):
            geometry = box_geometry(env)
            next_obs, reward, terminated, truncated, _ = env.step(actions[i])
            running[i].append((obs[i], labels[i], int(actions[i]), reward, geometry))
            obs[i] = next_obs
            if terminated or truncated:
                ret = 0.0
                for o, label, action, r, g in reversed(running[i]):  # the episode's last states if it must be cut
                    if n == steps:
                        break
                    ret = r + gamma * ret
                    row = Demonstrations(
                        {k: v[None] for k, v in o.items()},
                        np.array([label]),
                        np.array([action]),
                        np.array([ret], np.float32),
                        g[None],
                    )
                    if data is None:
                        data = Demonstrations.empty_like(row, steps)
                    data.write(n, row)
                    n += 1
                running[i] = []
                obs[i] = env.reset()[0]
        if progress is not None:
            progress(n)
    return data
