"""Training speed of SB3 PPO and DQN with each facebox encoder, beside the env's raw steps/s from the same run.

Frames per second are env steps per wall-clock second of ``model.learn`` after a warm-up ``learn`` (which
pays for model building, the first rollout and allocator growth). The machine may be shared, so absolute
numbers are noisy: compare rows of one run, and read the ``vs env`` ratio (training fps / raw env steps/s).

    python -m facebox.benchmarks.train_speed          # PPO and DQN, every variant, glimpse sizes 32, 48, 64
    python -m facebox.benchmarks.train_speed --algo ppo --variant cnn cnn-small --size 32 --threads 1 \
        --option fc=128 --set n_epochs=2
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import gymnasium as gym
import torch
import yaml
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.env_util import make_vec_env

import facebox  # noqa: F401  (registers the environments)
from facebox.agents.encoders import ENCODERS, encoder_policy_kwargs
from facebox.envs.config import lookup

__all__ = ["ENV_ID", "ALGO_SETTINGS", "VARIANTS", "env_steps_per_second", "training_fps", "main"]

ENV_ID = "facebox/FaceLocalization-v0"

# label -> (encoder, options). ``cnn`` is the reference; ``cnn-small`` is the candidate default agent's encoder:
# a quarter of the channels' cost, a 2x-strided first conv (the full-resolution 5x5 dominates), FC 256.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    **{name: (name, {}) for name in ENCODERS},
    "cnn-small": ("cnn", {"channels": (16, 32, 64), "fc": 256, "stride": 2}),
}

# Settings a realistic short run would use. PPO's rollout is n_envs * n_steps = 1024 transitions; DQN takes one
# gradient step per vector step of 4 envs, i.e. per 4 transitions as in the Atari setting (train_freq 4, 1 env).
ALGO_SETTINGS: dict[str, tuple[type, int, dict[str, Any]]] = {
    "ppo": (PPO, 8, {"n_steps": 128, "batch_size": 256, "n_epochs": 4}),
    "dqn": (DQN, 4, {"buffer_size": 20_000, "learning_starts": 500, "train_freq": 1, "gradient_steps": 1}),
}


def _env_config(size: int) -> dict:
    return {"observation": {"size": size}}


def env_steps_per_second(size: int, steps: int = 3000, seed: int = 0) -> float:
    """Random-action steps/s of one env instance (resets included): the ceiling for any training fps."""
    env = gym.make(ENV_ID, config=_env_config(size))
    env.reset(seed=seed)
    env.action_space.seed(seed)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def training_fps(
    algo: str,
    encoder: str,
    size: int,
    steps: int,
    warmup: int,
    options: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    seed: int = 0,
) -> float:
    """Env steps per second of ``model.learn(steps)`` after ``learn(warmup)``."""
    cls, n_envs, settings = lookup(ALGO_SETTINGS, algo, "algorithm")
    venv = make_vec_env(ENV_ID, n_envs=n_envs, seed=seed, env_kwargs={"config": _env_config(size)})
    policy_kwargs = encoder_policy_kwargs(encoder, **(options or {}))
    model = cls("MultiInputPolicy", venv, seed=seed, policy_kwargs=policy_kwargs, **{**settings, **(overrides or {})})
    model.learn(warmup)
    done, start = model.num_timesteps, time.perf_counter()  # learn rounds up to whole rollouts
    model.learn(steps, reset_num_timesteps=False)
    elapsed = time.perf_counter() - start
    venv.close()
    return (model.num_timesteps - done) / elapsed


def _pairs(items: list[str], what: str) -> dict[str, Any]:
    """``KEY=VALUE`` strings to a dict; values read by ``yaml.safe_load`` (``16,32,64`` becomes a list)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{what} {item!r} must look like KEY=VALUE")
        out[key] = yaml.safe_load(f"[{value}]" if "," in value else value)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algo", nargs="+", choices=sorted(ALGO_SETTINGS), default=["ppo", "dqn"])
    parser.add_argument("--variant", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--size", type=int, nargs="+", default=[32, 48, 64], help="glimpse sides to measure")
    parser.add_argument("--option", action="append", default=[], help="extra encoder option KEY=VALUE (repeatable)")
    parser.add_argument("--set", action="append", default=[], help="algorithm setting KEY=VALUE (repeatable)")
    parser.add_argument("--steps", type=int, default=2048, help="timed env steps per measurement")
    parser.add_argument("--warmup", type=int, default=1024)
    # One thread by default: these small batches gain little from a second one, and when another process holds a
    # core, OpenMP's barrier waits on a descheduled thread and training slows up to 10x.
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (0: torch's default)")
    args = parser.parse_args(argv)
    options, overrides = _pairs(args.option, "--option"), _pairs(args.set, "--set")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    print(f"torch threads {torch.get_num_threads()}; extra encoder options {options}; algorithm overrides {overrides}")
    print(f"{'algo':5} {'variant':10} {'size':>4} {'env steps/s':>11} {'train fps':>9} {'vs env':>7} {'vs cnn':>7}")
    for size in args.size:
        env_sps = env_steps_per_second(size)
        for algo in args.algo:
            reference = None
            for label in args.variant:
                encoder, variant_options = VARIANTS[label]
                fps = training_fps(
                    algo, encoder, size, args.steps, args.warmup, {**variant_options, **options}, overrides
                )
                reference = fps if label == "cnn" and not options else reference
                vs_cnn = f"{fps / reference:6.2f}x" if reference else "-"
                print(
                    f"{algo:5} {label:10} {size:4d} {env_sps:11.0f} {fps:9.0f} {fps / env_sps:7.1%} {vs_cnn:>7}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
