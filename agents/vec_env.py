"""SB3's ``SubprocVecEnv`` with workers that never import torch, and worker errors raised with their message.

Each SB3 worker imports torch (its worker function and ``Monitor`` live in ``stable_baselines3``): 300 MB of private
memory per worker for envs that never use it, 16 of them in the default PPO run. This subclass starts
:func:`facebox.envs.vector.worker` processes instead (``benchmarks/worker_memory.py`` measures both) and keeps all
of SB3's main-process side, which speaks the same pipe protocol.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import gymnasium as gym
from gymnasium.wrappers import RecordEpisodeStatistics
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import SubprocVecEnv, VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

from facebox.envs.vector import EnvWorkerError, start_workers

__all__ = ["EnvWorkerError", "TorchFreeSubprocVecEnv"]


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
