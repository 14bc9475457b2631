"""Evaluate a trained agent on face-localization episodes: the localization harness with one ``model:PATH`` row.

    python -m facebox.agents.evaluate --model runs/RUN/final_model.zip [--data wider:PATH] [--episodes 200]
        [--target any] [--out DIR] [--video mp4]

Metrics and the episode sweep are :mod:`facebox.benchmarks.localize`'s (``success@0.5``/``@0.7`` count only
triggered episodes). The observation settings (glimpse size, scene view, history, ...) come from the run's
``config.yml`` next to the model, so the agent sees what it was trained on; only the dataset and the target
policy may change. To put an agent beside the oracle, the random policy and Haar in one table, call the harness
with ``--policy model:PATH --policy oracle ...``.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import gymnasium as gym
import yaml
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm

import facebox  # noqa: F401  (registers the environments)
from facebox.benchmarks.localize import Policy, run_episodes, summarize, write_animation, write_table

__all__ = ["ALGOS", "model_policy", "find_config", "load_run", "make_eval_env", "main"]

# The SB3 classes by the name a run records in its config.yml ("algo"); training and loading share them.
ALGOS: dict[str, type[BaseAlgorithm]] = {"dqn": DQN, "ppo": PPO}


def model_policy(model: BaseAlgorithm) -> Policy:
    """The model's deterministic action (for DQN: greedy, no ε)."""
    return lambda env, obs: model.predict(obs, deterministic=True)[0]


def find_config(model_path: Path) -> Path:
    """The run's ``config.yml``: beside the model, or one level up for ``checkpoints/`` models."""
    for folder in (model_path.parent, model_path.parent.parent):
        if (folder / "config.yml").is_file():
            return folder / "config.yml"
    raise FileNotFoundError(
        f"{model_path}: no config.yml beside the model or in its parent folder; evaluation needs the run's "
        "config to rebuild the observation the model was trained on"
    )


def load_run(model_path: str | Path) -> tuple[BaseAlgorithm, dict]:
    """Load a model saved by :mod:`facebox.agents.train` and its run's resolved config."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"{model_path}: no such model file")
    config_path = find_config(model_path)
    with open(config_path) as f:
        config = yaml.safe_load(f)
    for key in ("algo", "env", "hyperparams"):
        if key not in (config or {}):
            raise KeyError(f"{config_path}: missing key {key!r} (not a facebox run config?)")
    algo = config["algo"]
    if algo not in ALGOS:
        raise ValueError(f"{config_path}: unknown algo {algo!r}; expected one of {sorted(ALGOS)}")
    return ALGOS[algo].load(model_path, device="cpu"), config


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


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="a .zip saved by facebox.agents.train")
    parser.add_argument("--env", help="env id (default: the run's)")
    parser.add_argument(
        "--data", help="data spec, e.g. wider:PATH, voc:PATH?classes=cat_face (default: the run's held-out set)"
    )
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--target", help="which faces count: largest | random | any (default: the run's)")
    parser.add_argument("--out", type=Path, help="folder for metrics.yml and the animation (default: RUN/eval)")
    parser.add_argument("--record", type=int, default=3, help="episodes to animate")
    parser.add_argument("--video", choices=("gif", "mp4"), default="gif")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes must be >= 1, got {args.episodes}")

    model, config = load_run(args.model)
    env = make_eval_env(config, args.data, args.target, args.env, render=args.record > 0)
    episodes, frames, speed = run_episodes(env, model_policy(model), args.episodes, record=args.record)
    summary = summarize(config["algo"], episodes, speed)
    out = args.out or find_config(args.model).parent / "eval"
    data = env.unwrapped.config["dataset"]
    print(f"{args.model} on {data}")
    print(write_table([summary], out, "metrics"))
    (out / "metrics.yml").write_text(yaml.safe_dump({"model": str(args.model), "data": data, **summary}))
    if frames:
        print(f"animation: {write_animation(frames, out / f'episodes.{args.video}')}")
    return summary


if __name__ == "__main__":
    main()
