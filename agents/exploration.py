"""Caicedo & Lazebnik's guided exploration for box-moving DQN agents.

Uniform random actions rarely reach a face (from the whole image a random walk triggers on one in about 1 % of
episodes), so early RL sees almost only failures. Caicedo & Lazebnik (2015) draw DQN's exploratory action among
the actions with positive reward (``info["positive_actions"]``) instead of among all actions: :class:`GuidedDQN`.
The other remedy, a behaviour-cloning warm start, is :mod:`facebox.agents.imitation`.
"""

from __future__ import annotations

import numpy as np
from stable_baselines3 import DQN
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from facebox.agents.callbacks import BehaviourCloning  # noqa: F401  (its dotted path in earlier YAMLs and runs)

__all__ = ["GuidedDQN", "guided_action"]


def guided_action(mask: np.ndarray, rng: np.random.Generator) -> int:
    """A uniform draw among the ``True`` entries of ``mask``; among all actions when none is positive (e.g. a box
    that no single move improves), so exploration never stalls.
    """
    candidates = np.flatnonzero(mask)
    if len(candidates) == 0:
        return int(rng.integers(len(mask)))
    return int(rng.choice(candidates))


def _base_venv(env: VecEnv) -> VecEnv:
    """The innermost vec env: wrappers (``VecTransposeImage``, ...) keep an empty ``reset_infos`` of their own."""
    while isinstance(env, VecEnvWrapper):
        env = env.venv
    return env


def _mask_of(info: dict) -> np.ndarray:
    if "positive_actions" not in info:
        raise KeyError(
            f"guided exploration needs info['positive_actions'] from the env (facebox envs provide it); got info "
            f"keys {sorted(info)}"
        )
    return np.asarray(info["positive_actions"], dtype=bool)


class GuidedDQN(DQN):
    """SB3 DQN whose exploratory actions are drawn from the actions with positive reward.

    With probability ε (1 during the ``learning_starts`` warm-up) an env's action is :func:`guided_action` on the
    mask of its current state, otherwise the greedy action; the coin is tossed per env (SB3's DQN tosses one for
    the whole batch). The masks follow the observations: after a step, ``infos[i]`` describes ``new_obs[i]`` unless
    env ``i`` finished, in which case the vec env has already reset it and the new episode's mask is in
    ``reset_infos[i]``. Draws come from a generator seeded with the model's seed, so seeded runs repeat.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.guide_rng = np.random.default_rng(self.seed)
        self._masks: np.ndarray | None = None

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_masks"]

    def _setup_learn(self, *args, **kwargs):
        before = self._last_obs
        result = super()._setup_learn(*args, **kwargs)
        if self._last_obs is not before or self._masks is None:  # the env was reset
            self._masks = np.stack([_mask_of(info) for info in _base_venv(self.env).reset_infos])
        return result

    def _store_transition(self, replay_buffer, buffer_action, new_obs, reward, dones, infos) -> None:
        super()._store_transition(replay_buffer, buffer_action, new_obs, reward, dones, infos)
        reset_infos = _base_venv(self.env).reset_infos
        self._masks = np.stack([_mask_of(reset_infos[i] if dones[i] else infos[i]) for i in range(len(infos))])

    def _sample_action(self, learning_starts: int, action_noise=None, n_envs: int = 1) -> tuple[np.ndarray, np.ndarray]:
        epsilon = 1.0 if self.num_timesteps < learning_starts else self.exploration_rate
        explore = self.guide_rng.random(n_envs) < epsilon
        if explore.all():
            actions = np.zeros(n_envs, dtype=np.int64)
        else:
            actions = np.asarray(self.policy.predict(self._last_obs, deterministic=True)[0], dtype=np.int64)
        for i in np.flatnonzero(explore):
            actions[i] = guided_action(self._masks[i], self.guide_rng)
        return actions, actions
