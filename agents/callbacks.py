"""Training callbacks: periodic held-out evaluation and atomic checkpoints.

SB3's own ``EvalCallback`` reports episode return, which for localization mixes move and trigger rewards; the
numbers a researcher wants are whether the agent stops on the face and how fast, so :class:`PeriodicEvaluation`
runs the same sweep as :mod:`facebox.agents.evaluate`. SB3's ``CheckpointCallback`` writes in place, so a run
killed mid-save leaves a truncated zip that ``--resume`` would choke on; :class:`AtomicCheckpoint` never does.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import gymnasium as gym
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

from facebox.agents.evaluate import model_policy
from facebox.benchmarks.localize import run_episodes, summarize

__all__ = ["PeriodicEvaluation", "AtomicCheckpoint", "atomic_write", "save_model", "checkpoint_paths"]


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(file)`` on a temporary file in ``path``'s folder, then rename it over ``path``.

    The rename is atomic on one file system, so readers see the old file or the complete new one, never half.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def save_model(model: BaseAlgorithm, path: str | Path) -> Path:
    return atomic_write(path, model.save)


def checkpoint_paths(directory: str | Path, num_timesteps: int) -> tuple[Path, Path]:
    """Model and replay-buffer paths of the checkpoint at ``num_timesteps``."""
    directory = Path(directory)
    return directory / f"model_{num_timesteps}_steps.zip", directory / f"replay_buffer_{num_timesteps}_steps.pkl"


class _Periodic(BaseCallback):
    """Calls ``run()`` every ``every`` environment steps, counted from where training (or a resume) starts."""

    every: int
    _last = 0

    @abstractmethod
    def run(self) -> object:
        """The periodic action (save a checkpoint, evaluate)."""

    def _on_training_start(self) -> None:
        self._last = self.num_timesteps

    def _on_step(self) -> bool:
        if self.num_timesteps - self._last >= self.every:
            self._last = self.num_timesteps
            self.run()
        return True


class AtomicCheckpoint(_Periodic):
    """Save the model every ``every`` environment steps (counted over all envs) to ``directory``.

    Off-policy models also save their replay buffer, so a resumed DQN does not restart from an empty one; only
    the newest buffer is kept (one is hundreds of MB with image observations).
    """

    def __init__(self, directory: str | Path, every: int, save_replay_buffer: bool = True, verbose: int = 0) -> None:
        super().__init__(verbose)
        if every < 1:
            raise ValueError(f"checkpoint interval must be >= 1 step, got {every}")
        self.directory, self.every, self.save_replay_buffer = Path(directory), every, save_replay_buffer
        self._last = 0

    def save(self) -> Path:
        model_path, buffer_path = checkpoint_paths(self.directory, self.num_timesteps)
        save_model(self.model, model_path)
        if self.save_replay_buffer and isinstance(self.model, OffPolicyAlgorithm):
            atomic_write(buffer_path, self.model.save_replay_buffer)
            for old in self.directory.glob("replay_buffer_*_steps.pkl"):
                if old != buffer_path:
                    old.unlink()
        if self.verbose:
            print(f"checkpoint: {model_path}")
        return model_path

    run = save


class PeriodicEvaluation(_Periodic):
    """Every ``every`` steps, run ``episodes`` deterministic episodes on ``env`` (held-out images) and log
    ``eval/success@0.5``, ``eval/success@0.7``, ``eval/mean_iou`` and ``eval/steps`` (median) to TensorBoard.

    ``history`` keeps ``(num_timesteps, summary)`` of every evaluation, for scripts and tests.
    """

    def __init__(self, env: gym.Env, every: int, episodes: int = 100, verbose: int = 0) -> None:
        super().__init__(verbose)
        if every < 1 or episodes < 1:
            raise ValueError(f"evaluation needs every >= 1 and episodes >= 1, got {every} and {episodes}")
        self.env, self.every, self.episodes = env, every, episodes
        self.history: list[tuple[int, dict[str, object]]] = []
        self._last = 0

    def evaluate(self) -> dict[str, object]:
        episodes, _, speed = run_episodes(self.env, model_policy(self.model), self.episodes)
        summary = summarize("agent", episodes, speed)
        for key in ("success@0.5", "success@0.7", "mean_iou"):
            self.logger.record(f"eval/{key}", summary[key])
        self.logger.record("eval/steps", summary["median_steps"])
        self.logger.dump(self.num_timesteps)
        self.history.append((self.num_timesteps, summary))
        if self.verbose:
            print(
                f"eval @ {self.num_timesteps}: success@0.5 {summary['success@0.5']:.3f}  "
                f"mean IoU {summary['mean_iou']:.3f}  median steps {summary['median_steps']:g}"
            )
        return summary

    run = evaluate
