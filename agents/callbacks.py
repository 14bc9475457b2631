"""Training callbacks: periodic held-out evaluation, atomic checkpoints, the behaviour-cloning warm start and the
stop on a signal.

SB3's own ``EvalCallback`` reports episode return, which for localization mixes move and trigger rewards; the
numbers a researcher wants are whether the agent stops on the face and how fast, so :class:`PeriodicEvaluation`
runs the same sweep as ``facebox evaluate`` (:mod:`facebox.envs.rollout`). SB3's ``CheckpointCallback`` writes
in place, so a run killed mid-save leaves a truncated zip that ``--resume`` would choke on; :class:`AtomicCheckpoint`
never does, and it saves the other callbacks' state with the model (:mod:`facebox.agents.checkpoints`).
:class:`BehaviourCloning` is a callback so that RL Zoo YAMLs can ask for the warm start too. :class:`StopOnSignal`
ends ``learn`` at the step after Ctrl-C or SIGTERM (:mod:`facebox.interrupts`).
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from tqdm import tqdm

from facebox.agents.checkpoints import checkpoint_files, save_checkpoint
from facebox.agents.imitation import Imitation, behaviour_cloning, freeze_encoders
from facebox.agents.policies import model_policy
from facebox.envs.rollout import run_episodes, summarize
from facebox.interrupts import StopRequested, stop_requested

__all__ = ["PeriodicEvaluation", "AtomicCheckpoint", "BehaviourCloning", "StopOnSignal", "CALLBACKS"]


def _poll_stop() -> None:
    """Unwind from a long phase inside a callback once a stop is asked for (SB3 only checks between steps)."""
    if stop_requested() is not None:
        raise StopRequested


class StopOnSignal(BaseCallback):
    """End ``learn`` at a step from which a resume continues as if uninterrupted, once a signal asked to stop.

    SB3 calls a step's callbacks before it stores the step's transitions, so the stopping step is counted but not
    learnt from; an on-policy model stopped mid-rollout has learnt from none of that rollout. An on-policy model
    stops at once, an off-policy one at the first step of its next collection (the earlier ones are stored and
    trained on); :meth:`rewind` then sets the step count back to the start of the rollout or collection. The
    resumed run collects those steps again and ends at the same step count, with the same buffer size, as an
    uninterrupted one.
    """

    rollout_start: int | None = None
    stopped = False

    def _on_rollout_start(self) -> None:
        self.rollout_start = self.num_timesteps

    def _on_step(self) -> bool:
        if stop_requested() is not None:
            self.stopped = isinstance(self.model, OnPolicyAlgorithm) or self.locals.get("num_collected_steps") == 1
        return not self.stopped

    def rewind(self) -> None:
        if self.stopped:
            self.model.num_timesteps = self.rollout_start


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
    """Save a resumable checkpoint every ``every`` environment steps (counted over all envs) to ``directory``:
    the model, an off-policy model's replay buffer and the state of the ``stateful`` callbacks
    (:func:`facebox.agents.checkpoints.save_checkpoint`). Each checkpoint keeps its own buffer, so any of them
    resumes as it was (one is hundreds of MB with image observations: ``save_replay_buffer=False`` skips them).
    """

    def __init__(
        self,
        directory: str | Path,
        every: int,
        stateful: Sequence[BaseCallback] = (),
        save_replay_buffer: bool = True,
        verbose: int = 0,
    ) -> None:
        super().__init__(verbose)
        if every < 1:
            raise ValueError(f"checkpoint interval must be >= 1 step, got {every}")
        self.directory, self.every, self.save_replay_buffer = Path(directory), every, save_replay_buffer
        self.stateful = list(stateful)
        self._last = 0

    def save(self) -> Path:
        path = save_checkpoint(
            self.model,
            checkpoint_files(self.directory, self.model.num_timesteps),
            self.stateful,
            self.save_replay_buffer,
        )
        if self.verbose:
            print(f"checkpoint: {path}")
        return path

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

    def _episodes(self, indices: Iterable) -> Iterator:
        for index in tqdm(
            indices, f"eval @ {self.num_timesteps}", unit="episode", leave=False, disable=not self.verbose
        ):
            _poll_stop()
            yield index

    def evaluate(self) -> dict[str, object] | None:
        """The summary, logged; None if a stop was asked for meanwhile (the run stops at its next step)."""
        try:
            episodes, _, speed = run_episodes(
                self.env, model_policy(self.model), self.episodes, progress=self._episodes
            )
        except StopRequested:
            return None
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

    def state_dict(self) -> dict[str, Any]:
        return {"history": json.dumps(self.history)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = [(steps, summary) for steps, summary in json.loads(state["history"])]


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
        self._resumed: dict[str, Any] | None = None  # the warm start's state from a checkpoint (load_state_dict)
        self._bar: tqdm | None = None
        self._bar_phase: tuple[int, str] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {
            "rollouts": self._rollouts,
            "imitation": None if self.imitation is None else self.imitation.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._rollouts, self._resumed = state["rollouts"], state["imitation"]

    def _on_training_start(self) -> None:
        if self.anchor_schedule[0] > 0 and not isinstance(self.model, OnPolicyAlgorithm):
            raise ValueError(f"anchor is for on-policy algorithms (one anchoring per rollout); got {self.model}")
        if self.model.num_timesteps == 0 or self._resumed is not None:
            self._warm_start()
        elif self.anchor_schedule[0] > 0:
            warnings.warn(
                "BehaviourCloning: resumed without the warm start's saved state; the imitation anchor is off",
                stacklevel=2,
            )
        if self.freeze:
            freeze_encoders(self.model.policy)

    def _warm_start(self) -> None:
        # The spec as registered plus the make() kwargs, without the wrappers SB3 added (Monitor, ...).
        spec = dataclasses.replace(self.training_env.get_attr("spec", indices=[0])[0], additional_wrappers=())
        seed = 0 if self.model.seed is None else self.model.seed
        resumed, self._resumed = self._resumed, None
        threads = torch.get_num_threads()
        torch.set_num_threads(self.torch_threads)
        try:
            self.imitation = behaviour_cloning(
                self.model, lambda: gym.make(spec), seed=seed, state=resumed, progress=self._progress, **self.options
            )
        finally:
            torch.set_num_threads(threads)
            self._close_bar()
        if resumed is not None and resumed["stats"]:
            return  # finished before the checkpoint: its numbers are logged already
        stats = self.imitation.stats
        for key, value in stats.items():
            self.logger.record(f"bc/{key}", value)
        self.logger.dump(self.num_timesteps)
        if self.verbose:
            print("behaviour cloning: " + "  ".join(f"{k} {v:.3f}" for k, v in stats.items()))

    def _progress(self, imitation: Imitation, done: int, total: int) -> None:
        """A bar per warm-start phase; each round's agreement and loss go to TensorBoard (by states collected)."""
        self.imitation = imitation  # the state to save if the stop below interrupts the warm start
        _poll_stop()
        phase = (imitation.round, imitation.phase)
        if phase != self._bar_phase:
            self._close_bar()
            self._bar_phase = phase
            epochs = self.options["epochs"]
            what = "collect" if imitation.phase == "collect" else f"fit {epochs} epoch{'s' * (epochs != 1)}"
            self._bar = tqdm(
                total=total,
                desc=f"warm start round {imitation.round + 1}/{self.options['rounds']}: {what}",
                unit="state" if imitation.phase == "collect" else "sample",
                disable=not self.verbose,
            )
        self._bar.update(done - self._bar.n)
        if imitation.phase == "fit" and done == total:
            for key, value in imitation.results.items():
                self.logger.record(f"bc/round_{key}", value)
            self.logger.dump(imitation.added)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar, self._bar_phase = None, None

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
