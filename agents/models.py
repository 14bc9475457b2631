"""Building, loading and running SB3 models: the one place a model is made, so training, resuming, the speed
benchmark and evaluation all get the same network from the same settings.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

import facebox  # noqa: F401  (registers the environments)
from facebox.agents.exploration import GuidedDQN
from facebox.agents.policies import POLICIES, model_policy
from facebox.config import ConfigError, lookup
from facebox.runs import CONFIG, load_run_config

__all__ = [
    "ALGOS",
    "META_KEYS",
    "algorithm_kwargs",
    "make_venv",
    "algorithm_class",
    "build_model",
    "load_run",
    "make_eval_env",
    "model_policy",  # re-exported: loading and running a model go together
]

# The SB3 classes by the name a run records in its config.yml ("algo"); training and loading share them.
ALGOS: dict[str, type[BaseAlgorithm]] = {"dqn": DQN, "ppo": PPO}
# Keys of a YAML entry that are not algorithm arguments (the RL Zoo's names).
META_KEYS = ("n_timesteps", "policy", "n_envs", "policy_kwargs", "env_kwargs", "callback")


def algorithm_kwargs(hyperparams: Mapping) -> dict[str, Any]:
    """The entry's arguments for the SB3 algorithm class (everything but the RL Zoo's meta keys)."""
    kwargs = {k: copy.deepcopy(v) for k, v in hyperparams.items() if k not in META_KEYS}
    if isinstance(kwargs.get("train_freq"), list):  # YAML has no tuples; SB3 wants (n, "step")
        kwargs["train_freq"] = tuple(kwargs["train_freq"])
    return kwargs


def make_venv(env_id: str, n_envs: int, seed: int, env_kwargs: Mapping | None) -> VecEnv:
    """``n_envs`` seeded copies (env ``i`` seeded ``seed + i``), in subprocesses when more than one.

    The factory is the env's registered spec (as in the RL Zoo), which pickles without a registry lookup in the
    subprocess.
    """
    return make_vec_env(
        gym.spec(env_id).make,
        n_envs=n_envs,
        seed=seed,
        env_kwargs=dict(env_kwargs or {}),
        vec_env_cls=SubprocVecEnv if n_envs > 1 else DummyVecEnv,
    )


def algorithm_class(algo: str, guided: bool = False) -> type[BaseAlgorithm]:
    """The SB3 class of ``algo``; ``guided`` makes a DQN a :class:`GuidedDQN`."""
    return GuidedDQN if guided else lookup(ALGOS, algo, "algo")


def build_model(algo: str, hyperparams: Mapping, venv: VecEnv, seed: int, guided: bool = False) -> BaseAlgorithm:
    """A fresh model of the YAML entry ``hyperparams`` on ``venv``, seeded."""
    return algorithm_class(algo, guided)(
        lookup(POLICIES, hyperparams["policy"], "policy (hyperparams['policy'])"),
        venv,
        policy_kwargs=copy.deepcopy(hyperparams.get("policy_kwargs")),
        seed=seed,
        verbose=0,
        device="cpu",
        **algorithm_kwargs(hyperparams),
    )


def load_run(model_path: str | Path) -> tuple[BaseAlgorithm, dict]:
    """Load a model saved by :mod:`facebox.agents.train` and its run's resolved config."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"{model_path}: no such model file")
    config, run_dir = load_run_config(model_path)
    if config["algo"] not in ALGOS:
        raise ConfigError(f"{run_dir / CONFIG}: unknown algo {config['algo']!r}; expected one of {sorted(ALGOS)}")
    return ALGOS[config["algo"]].load(model_path, device="cpu"), config


def make_eval_env(
    config: dict, data: str | None = None, target: str | None = None, env_id: str | None = None, render: bool = False
) -> gym.Env:
    """The run's env (same observation and action settings) on held-out ``data``: by default the run's evaluation
    data set (``config["eval"]["data"]``); ``target`` overrides which faces count (e.g. ``"any"``).
    """
    env_kwargs = copy.deepcopy(config["hyperparams"].get("env_kwargs") or {})
    env_config = env_kwargs.setdefault("config", {})
    env_config["dataset"] = data or config["eval"]["data"]
    if target is not None:
        env_config["target"] = target
    return gym.make(env_id or config["env"], render_mode="rgb_array" if render else None, **env_kwargs)
