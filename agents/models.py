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
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

import facebox  # noqa: F401  (registers the environments)
from facebox.agents.exploration import GuidedDQN
from facebox.agents.policies import POLICIES, model_policy
from facebox.agents.vec_env import BatchedVecEnv, TorchFreeSubprocVecEnv
from facebox.config import ConfigError, lookup
from facebox.envs.batched import accepts_batching
from facebox.envs.data.sources import held_out
from facebox.envs.vector import EnvFactory
from facebox.runs import find_config, load_run_config

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


VEC_ENVS = ("auto", "batched", "subprocess")


def make_venv(env_id: str, n_envs: int, seed: int, env_kwargs: Mapping | None, kind: str = "auto") -> VecEnv:
    """``n_envs`` seeded copies (env ``i`` seeded ``seed + i``): ``batched`` in this process as one
    :class:`~facebox.envs.batched.BatchedLocalizationEnv` (the env's ``vector_entry_point``), or ``subprocess``
    workers; ``auto`` takes the batched env when the env has one that accepts the config, since it is faster
    (docs/experiments.md, "17.3 PPO training speed"). Both give the same observations.

    The factory is the env's registered spec (as in the RL Zoo), which pickles without a registry lookup in the
    subprocess. One env runs in-process as SB3 makes it; several run in :class:`TorchFreeSubprocVecEnv` workers,
    which do not import torch, with the same seeding and episode statistics.
    """
    lookup(dict.fromkeys(VEC_ENVS), kind, "vec env kind")
    spec, kwargs = gym.spec(env_id), dict(env_kwargs or {})
    batchable = spec.vector_entry_point is not None and accepts_batching(kwargs.get("config"))
    if kind == "batched" and not batchable:
        raise ConfigError(f"vec env kind: expected an env and config the batched env takes, got {env_id} {kwargs}")
    if kind == "batched" or (kind == "auto" and batchable and n_envs > 1):
        batched = gym.make_vec(
            env_id, num_envs=n_envs, vectorization_mode="vector_entry_point", autoreset_mode="SameStep", **kwargs
        )
        venv = BatchedVecEnv(batched)
        venv.action_space.seed(seed)  # as make_vec_env seeds env 0's, which SB3's vec envs expose
    elif n_envs == 1:
        return make_vec_env(spec.make, n_envs=1, seed=seed, env_kwargs=kwargs, vec_env_cls=DummyVecEnv)
    else:
        venv = TorchFreeSubprocVecEnv([EnvFactory(spec, kwargs, action_seed=seed + i) for i in range(n_envs)])
    venv.seed(seed)  # the seeds of the first reset, as make_vec_env sets them
    return venv


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


def load_run(model_path: str | Path, env: VecEnv | None = None) -> tuple[BaseAlgorithm, dict]:
    """Load a model saved by :mod:`facebox.agents.train` or by the RL Zoo, and its run's resolved config
    (:func:`facebox.runs.load_run_config`); given ``env``, SB3 checks that the model's spaces are the env's.
    """
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"{model_path}: no such model file")
    config, _ = load_run_config(model_path)
    return run_algorithm(config, model_path).load(model_path, env=env, device="cpu"), config


def run_algorithm(config: Mapping, path: str | Path) -> type[BaseAlgorithm]:
    """The SB3 class of the run config of ``path`` (a model or run folder), or a ``ConfigError`` naming its file."""
    if config["algo"] not in ALGOS:
        raise ConfigError(f"{find_config(path)}: unknown algo {config['algo']!r}; expected one of {sorted(ALGOS)}")
    return ALGOS[config["algo"]]


def make_eval_env(
    config: dict, data: str | None = None, target: str | None = None, env_id: str | None = None, render: bool = False
) -> gym.Env:
    """The run's env (same observation and action settings) on held-out ``data``: by default the run's evaluation
    data set (``config["eval"]["data"]``), for a run that names none (an RL Zoo run) the synthetic training set's
    held-out twin; ``target`` overrides which faces count (e.g. ``"any"``).
    """
    env_kwargs = copy.deepcopy(config["hyperparams"].get("env_kwargs") or {})
    env_config = env_kwargs.setdefault("config", {})
    env_config.pop("augment", None)  # evaluation sees the images as they are
    env_config["dataset"] = data or config["eval"]["data"] or held_out(env_config.get("dataset", "synthetic"), 1)
    if target is not None:
        env_config["target"] = target
    return gym.make(env_id or config["env"], render_mode="rgb_array" if render else None, **env_kwargs)
