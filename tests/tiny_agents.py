"""Tiny agents for tests that need a trained model in seconds: a 32 px glimpse and a CNN of 4-8 channels."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

import facebox  # noqa: F401  (registers the environments)
from facebox.agents.policies import PPOEncoderPolicy
from facebox.agents.train import Trained, train

ENV_ID = "facebox/FaceLocalization-v0"
TINY_ENCODER = {"encoder": "cnn", "encoder_kwargs": {"channels": [4, 8, 8], "fc": 16, "stride": 1}, "net_arch": []}
TINY_ENV = {"config": {"observation": {"size": 32}}}
TINY = {
    "ppo": {"n_timesteps": 128, "n_envs": 1, "n_steps": 64, "batch_size": 32, "n_epochs": 1},
    "dqn": {"n_timesteps": 200, "n_envs": 1, "learning_starts": 50, "buffer_size": 500, "train_freq": 4},
}


def tiny_env() -> gym.Env:
    return gym.make(ENV_ID, config=TINY_ENV["config"])


def tiny_ppo(venv):
    from stable_baselines3 import PPO

    return PPO(PPOEncoderPolicy, venv, policy_kwargs=TINY_ENCODER, seed=0, n_steps=64, batch_size=32, n_epochs=1)


def tiny_train(tmp_path: Path, algo: str = "ppo", seed: int = 0, env_id: str = ENV_ID, **kwargs) -> Trained:
    """A run of :func:`train` with a tiny network and budget, quiet, no warm start unless asked."""
    hyperparams = {**TINY[algo], "policy_kwargs": TINY_ENCODER, "callback": [], **kwargs.pop("hyperparams", {})}
    options = {"eval_freq": 10**6, "eval_episodes": 2, "checkpoint_freq": 10**6, "progress_bar": False, "verbose": 0}
    return train(
        algo=algo,
        env=env_id,
        seed=seed,
        hyperparams=hyperparams,
        runs_dir=tmp_path,
        **{"env_kwargs": TINY_ENV, **options, **kwargs},
    )


def observations(n: int = 6) -> dict[str, np.ndarray]:
    env = tiny_env()
    obs = [env.reset(seed=i)[0] for i in range(n)]
    return {key: np.stack([o[key] for o in obs]) for key in obs[0]}
