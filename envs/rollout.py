"""Rolling policies out on an env and scoring the episodes: the one sweep that training-time evaluation, the
evaluate command, the demo and the benchmarks share, so their numbers mean the same thing.

Every caller runs over the same images in the same order (a sweep over dataset indices, or a seeded sample for
the endless synthetic set). ``success@τ`` counts an episode only if the policy *triggered* with IoU ≥ τ (a box
that merely overlaps the face when the step limit cuts the episode off is not a success); ``mean_iou`` is the
final box's (credits near misses); ``median_steps`` counts truncated episodes at the step limit (Caicedo report
a median of 11 per detection on VOC); ``policy_steps_per_s`` is the policy's own decision speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from facebox.envs.boxes import iou
from facebox.envs.data import FaceImage

__all__ = ["Policy", "Progress", "THRESHOLDS", "Episode", "run_episodes", "run_detector", "summarize"]

Policy = Callable[[gym.Env, dict], object]
"""``policy(env, obs) -> action``; reference policies read the (unwrapped) env, agents the observation."""
Progress = Callable[[Iterable], Iterable]
"""Wraps the sweep's iterable of episodes (e.g. ``tqdm``): the caller's progress bar, this layer stays torch- and
tqdm-free."""
THRESHOLDS = (0.5, 0.7)


@dataclass
class Episode:
    iou: float  # IoU of the final box with the best-matching target face
    triggered: bool
    steps: int

    def success(self, threshold: float) -> bool:
        """A detection counts only if the agent committed to it (triggered) with IoU >= threshold."""
        return self.triggered and self.iou >= threshold


def _indices(env: gym.Env, episodes: int) -> list[int | None]:
    """A sweep over a finite real set (each image once, in order); seeded sampling for the synthetic one."""
    n = len(env.unwrapped.dataset)
    return list(range(min(n, episodes))) if n <= 10 * episodes else [None] * episodes


def _sweep(env: gym.Env, episodes: int, progress: Progress | None) -> Iterable[tuple[int, int | None]]:
    sweep = list(enumerate(_indices(env, episodes)))
    return sweep if progress is None else progress(sweep)


def run_episodes(
    env: gym.Env, policy: Policy, episodes: int, seed: int = 0, record: int = 0, progress: Progress | None = None
) -> tuple[list[Episode], list[np.ndarray], float]:
    """Roll out ``policy(env, obs) -> action``; returns episodes, rendered frames of the first ``record``
    episodes (the env needs ``render_mode="rgb_array"`` for those) and the policy's steps per second.
    """
    results, frames, steps, seconds = [], [], 0, 0.0
    for k, index in _sweep(env, episodes, progress):
        options = {} if index is None else {"index": index}
        obs, info = env.reset(seed=seed + k, options=options)
        if k < record:
            frames.append(env.render())
        terminated = truncated = False
        n = 0
        while not (terminated or truncated):
            start = time.perf_counter()
            action = policy(env, obs)
            seconds += time.perf_counter() - start
            obs, _, terminated, truncated, info = env.step(action)
            n += 1
            if k < record:
                frames.append(env.render())
        steps += n
        results.append(Episode(iou=info["iou"], triggered=bool(terminated), steps=n))
    return results, frames, steps / max(seconds, 1e-9)


def run_detector(
    env: gym.Env,
    detect: Callable[[FaceImage], np.ndarray | None],
    episodes: int,
    seed: int = 0,
    progress: Progress | None = None,
) -> tuple[list[Episode], float]:
    """Score a one-shot detector (``detect(record) -> box or None``) on the images the policies see: the same
    sweep and the same target choice, so its row sits beside theirs.
    """
    results, seconds = [], 0.0
    for k, index in _sweep(env, episodes, progress):
        env.reset(seed=seed + k, options={} if index is None else {"index": index})
        base = env.unwrapped
        start = time.perf_counter()
        box = detect(base.record)
        seconds += time.perf_counter() - start
        score = 0.0 if box is None else float(iou(box, base.targets).max())
        results.append(Episode(iou=score, triggered=box is not None, steps=1))
    return results, len(results) / max(seconds, 1e-9)


def summarize(name: str, episodes: list[Episode], speed: float) -> dict[str, object]:
    """One table row: the metrics of the module docstring over ``episodes``."""
    if not episodes:
        raise ValueError(f"{name}: no episodes to summarize")
    return {
        "policy": name,
        "episodes": len(episodes),
        **{f"success@{t}": float(np.mean([e.success(t) for e in episodes])) for t in THRESHOLDS},
        "mean_iou": float(np.mean([e.iou for e in episodes])),
        "median_steps": float(np.median([e.steps for e in episodes])),
        "trigger_rate": float(np.mean([e.triggered for e in episodes])),
        "policy_steps_per_s": speed,
    }
