"""SB3 vec envs of facebox envs: a ``SubprocVecEnv`` with workers that never import torch (worker errors raised with
their message), and :class:`BatchedVecEnv`, a Gymnasium vector env (the batched localization env) seen as SB3's.

Each SB3 worker imports torch (its worker function and ``Monitor`` live in ``stable_baselines3``): 300 MB of private
memory per worker for envs that never use it, 16 of them in the default PPO run. This subclass starts
:func:`facebox.envs.vector.worker` processes instead (``benchmarks/worker_memory.py`` measures both) and keeps all
of SB3's main-process side, which speaks the same pipe protocol.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.wrappers import RecordEpisodeStatistics
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import SubprocVecEnv, VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvObs, VecEnvStepReturn

from facebox.envs.vector import EnvWorkerError, start_workers

__all__ = ["BatchedVecEnv", "EnvWorkerError", "TorchFreeSubprocVecEnv"]


class TorchFreeSubprocVecEnv(SubprocVecEnv):
    """A ``SubprocVecEnv`` of torch-free workers: ``env_fns`` must pickle without cloudpickle and without importing
    torch (:class:`facebox.envs.vector.EnvFactory` does). An exception in a worker is raised here as an
    :class:`EnvWorkerError` naming the worker and carrying its message and traceback; the venv then still answers
    and closes.
    """

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], start_method: str | None = None) -> None:
        self.waiting = False
        self.closed = False
        self.remotes, self.processes = start_workers(env_fns, start_method)
        try:
            for remote in self.remotes:  # all of them, so that an env that fails to build fails here
                remote.send(("get_spaces", None))
            spaces = [remote.recv() for remote in self.remotes]
            VecEnv.__init__(self, len(env_fns), *spaces[0])
        except BaseException:
            self.close()
            raise

    def step_wait(self) -> VecEnvStepReturn:
        try:
            return super().step_wait()
        finally:  # every reply was read, errors included: SB3's close must not wait for them again
            self.waiting = False

    def close(self) -> None:
        if self.waiting:  # a step sent and never collected: read its replies so that no worker blocks on them
            with contextlib.suppress(EnvWorkerError):
                self.step_wait()
        super().close()

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        """As SB3's, with ``Monitor`` answered by the workers' stand-in for it, ``RecordEpisodeStatistics`` (the
        class itself would import SB3, and torch, in the worker that unpickles it).
        """
        if wrapper_class is Monitor:
            wrapper_class = RecordEpisodeStatistics
        return super().env_is_wrapped(wrapper_class, indices)


class BatchedVecEnv(VecEnv):
    """A Gymnasium vector env in ``SAME_STEP`` autoreset mode (``gym.make_vec(id, n, vectorization_mode=
    "vector_entry_point", autoreset_mode="SameStep")``) behind SB3's ``VecEnv`` API, giving what a ``SubprocVecEnv``
    of ``Monitor``-ed single envs gives (tested): per-env infos with ``terminal_observation``,
    ``TimeLimit.truncated`` and, at an episode's end, ``episode = {"r", "l", "t"}``.
    """

    def __init__(self, venv: VectorEnv) -> None:
        if venv.metadata.get("autoreset_mode") != AutoresetMode.SAME_STEP:
            raise ValueError(f"BatchedVecEnv: expected a vector env with autoreset_mode SAME_STEP, got {venv}")
        self.venv = venv
        self.render_mode = venv.render_mode
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._returns, self._lengths = np.zeros(self.num_envs), np.zeros(self.num_envs, np.int64)
        self._started = time.perf_counter()

    def reset(self) -> VecEnvObs:
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        obs, info = self.venv.reset(seed=seeds, options=self._options[0] or None)
        self.reset_infos = [_row(info, i) for i in range(self.num_envs)]
        self._reset_seeds()
        self._reset_options()
        self._returns[:], self._lengths[:] = 0.0, 0
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, terminated, truncated, info = self.venv.step(self._actions)
        dones = terminated | truncated
        self._returns += rewards
        self._lengths += 1
        infos = []
        for i in range(self.num_envs):
            if not dones[i]:
                infos.append({**_row(info, i), "TimeLimit.truncated": False})
                continue
            row = _row(info["final_info"], i)
            row["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            row["terminal_observation"] = info["final_obs"][i]
            row["episode"] = {"r": float(self._returns[i]), "l": int(self._lengths[i]), "t": self._elapsed()}
            self._returns[i], self._lengths[i] = 0.0, 0
            self.reset_infos[i] = _row(info, i)
            infos.append(row)
        return obs, rewards, dones, infos

    def _elapsed(self) -> float:
        return round(time.perf_counter() - self._started, 6)

    def close(self) -> None:
        self.venv.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        return list(self.venv.render())

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self.venv.envs[i], attr_name) for i in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        for i in self._get_indices(indices):
            setattr(self.venv.envs[i], attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        return [
            getattr(self.venv.envs[i], method_name)(*method_args, **method_kwargs) for i in self._get_indices(indices)
        ]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        """``Monitor`` (and Gymnasium's ``RecordEpisodeStatistics``) answer True: the episodes are recorded here."""
        recorded = wrapper_class in (Monitor, RecordEpisodeStatistics)
        return [recorded for _ in self._get_indices(indices)]


def _row(info: Mapping, i: int) -> dict[str, Any]:
    """Env ``i``'s info out of a vector env's stacked info (the ``_key`` masks dropped)."""
    row: dict[str, Any] = {}
    for key, value in info.items():
        if key.startswith("_") or key in ("final_obs", "final_info"):
            continue
        if isinstance(value, Mapping):
            row[key] = _row(value, i)
        elif value.ndim == 1:
            row[key] = value[i].item()
        else:
            row[key] = value[i].copy()
    return row
