"""Training callbacks: periodic held-out evaluation, atomic checkpoints and the behaviour-cloning warm start.

SB3's own ``EvalCallback`` reports episode return, which for localization mixes move and trigger rewards; the
numbers a researcher wants are whether the agent stops on the face and how fast, so :class:`PeriodicEvaluation`
runs the same sweep as ``facebox evaluate`` (:mod:`facebox.envs.rollout`). SB3's ``CheckpointCallback`` writes
in place, so a run killed mid-save leaves a truncated zip that ``--resume`` would choke on; :class:`AtomicCheckpoint`
never does. :class:`BehaviourCloning` is a callback so that RL Zoo YAMLs can ask for the warm start too.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from pathlib import Path

import gymnasium as gym
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from facebox.agents.imitation import Imitation, behaviour_cloning, freeze_encoders
from facebox.agents.policies import model_policy
from facebox.envs.rollout import run_episodes, summarize
from facebox.runs import atomic_write

__all__ = [
    "PeriodicEvaluation",
    "AtomicCheckpoint",
    "BehaviourCloning",
    "CALLBACKS",
    "save_model",
    "checkpoint_paths",
]


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


class BehaviourCloning(BaseCallback):
    """Run :func:`behaviour_cloning` when training starts from scratch (a resumed model is already warm).

    The demonstrations come from fresh copies of the training env (its ``spec``, with the same kwargs), made in
    this process because the oracle reads the env's ground truth; so during the warm start the cores that RL's
    subprocess envs will use are idle, and ``torch_threads`` lets the network use them (2 threads fit 1.7x as
    many states per second as 1 on 2 cores, bit for bit the same for a given thread count). With ``freeze`` the
    policy's encoders are frozen once warm (also when a run resumes), as Caicedo & Lazebnik froze their CNN and
    trained only the Q-network on its features: RL then updates only the heads, so each update skips the
    convolutions' backward pass (docs/experiments.md, 5.6). With ``anchor`` > 0
    (on-policy algorithms), after every rollout ``anchor_batches`` imitation minibatches follow at
    ``anchor * anchor_decay**k`` x the learning rate (:meth:`Imitation.anchor`). Usable from an RL Zoo YAML::

        callback:
          - facebox.agents.callbacks.BehaviourCloning: {steps: 20000}
    """

    def __init__(
        self,
        steps: int,
        rounds: int = 2,
        epochs: int = 4,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        geometry: bool = True,
        value_coef: float = 0.1,
        capacity: int | None = None,
        mirror: bool = False,
        n_envs: int = 8,
        torch_threads: int = 1,
        anchor: float = 0.0,
        anchor_batches: int = 4,
        anchor_decay: float = 0.95,
        freeze: bool = False,
        verbose: int = 1,
    ) -> None:
        super().__init__(verbose)
        self.options = {
            "steps": steps,
            "rounds": rounds,
            "epochs": epochs,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "geometry": geometry,
            "value_coef": value_coef,
            "capacity": capacity,
            "mirror": mirror,
            "n_envs": n_envs,
        }
        if torch_threads < 1:
            raise ValueError(f"BehaviourCloning needs torch_threads >= 1, got {torch_threads}")
        self.torch_threads = torch_threads
        self.anchor_schedule = (anchor, anchor_batches, anchor_decay)
        self.freeze = freeze
        self.imitation: Imitation | None = None
        self._rollouts = 0

    def _on_training_start(self) -> None:
        if self.anchor_schedule[0] > 0 and not isinstance(self.model, OnPolicyAlgorithm):
            raise ValueError(f"anchor is for on-policy algorithms (one anchoring per rollout); got {self.model}")
        if self.model.num_timesteps == 0:
            self._warm_start()
        if self.freeze:
            freeze_encoders(self.model.policy)

    def _warm_start(self) -> None:
        # The spec as registered plus the make() kwargs, without the wrappers SB3 added (Monitor, ...).
        spec = dataclasses.replace(self.training_env.get_attr("spec", indices=[0])[0], additional_wrappers=())
        seed = 0 if self.model.seed is None else self.model.seed
        threads = torch.get_num_threads()
        torch.set_num_threads(self.torch_threads)
        try:
            self.imitation = behaviour_cloning(self.model, lambda: gym.make(spec), seed=seed, **self.options)
        finally:
            torch.set_num_threads(threads)
        stats = self.imitation.stats
        for key, value in stats.items():
            self.logger.record(f"bc/{key}", value)
        if self.verbose:
            print("behaviour cloning: " + "  ".join(f"{k} {v:.3f}" for k, v in stats.items()))

    def _on_rollout_end(self) -> None:
        anchor, batches, decay = self.anchor_schedule
        if anchor > 0 and self.imitation is not None:
            scale = anchor * decay**self._rollouts
            self.logger.record("bc/anchor_loss", self.imitation.anchor(batches, scale))
            self.logger.record("bc/anchor_scale", scale)
            self._rollouts += 1

    def _on_step(self) -> bool:
        return True


# Names usable as `callback:` in the YAML files (the dotted paths the RL Zoo imports), with the earlier path.
CALLBACKS: dict[str, type] = {
    f"facebox.agents.{module}.BehaviourCloning": BehaviourCloning for module in ("callbacks", "exploration")
}
