"""Evaluate a trained agent, or a reference policy, on face-localization episodes.

    python -m facebox.agents.evaluate --model runs/RUN/final_model.zip [--data wider:PATH] [--episodes 200]
        [--target any] [--out DIR]

Metrics (per episode, then over the sweep):

- ``success@τ``: the agent *triggered* with IoU ≥ τ. Stopping on the face is the task, so a box that happens to
  overlap the face when the step limit cuts the episode off is not a success;
- ``mean_iou``: IoU of the final box (at trigger or truncation), which credits near misses;
- ``median_steps``: actions per episode, truncated episodes counting the step limit (Caicedo report a median of
  11 per detection on VOC);
- ``trigger_rate``: how often the agent triggered at all.

Episodes are a deterministic sweep: episode ``i`` shows dataset image ``i`` (``reset(seed=i,
options={"index": i})``), so two agents, or the same agent after more training, are compared on the same images.
The observation settings (glimpse size, history, ...) come from the run's ``config.yml`` next to the model, so
the agent sees what it was trained on; only the dataset and the target policy may change.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import yaml
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm

import facebox  # noqa: F401  (registers the environments)
from facebox.envs.policies import GreedyOracle, RandomPolicy

__all__ = [
    "ALGOS",
    "THRESHOLDS",
    "Episode",
    "Policy",
    "model_policy",
    "oracle_policy",
    "random_policy",
    "run_episodes",
    "summarize",
    "format_table",
    "find_config",
    "load_run",
    "make_eval_env",
    "write_animation",
    "main",
]

# The SB3 classes by the name a run records in its config.yml ("algo"); training and loading share them.
ALGOS: dict[str, type[BaseAlgorithm]] = {"dqn": DQN, "ppo": PPO}
THRESHOLDS = (0.5, 0.7)

Policy = Callable[[dict[str, np.ndarray], gym.Env], Any]
"""``policy(observation, env) -> action``; reference policies read the (unwrapped) env, agents the observation."""


@dataclass(frozen=True)
class Episode:
    steps: int
    triggered: bool
    iou: float  # of the final box, at trigger or truncation


def model_policy(model: BaseAlgorithm) -> Policy:
    """The model's deterministic action (for DQN: greedy, no ε)."""
    return lambda obs, env: model.predict(obs, deterministic=True)[0]


def oracle_policy() -> Policy:
    oracle = GreedyOracle()
    return lambda obs, env: oracle(env)


def random_policy(seed: int = 0) -> Policy:
    policy = RandomPolicy(np.random.default_rng(seed))
    return lambda obs, env: policy(env)


def run_episodes(
    env: gym.Env, policy: Policy, episodes: int, record: int = 0
) -> tuple[list[Episode], list[np.ndarray]]:
    """Run the sweep of ``episodes`` episodes (episode ``i`` on image ``i`` modulo the dataset size).

    ``env`` must carry a time limit (``gym.make`` adds it). Returns the episodes and the rendered frames of the
    first ``record`` of them (``env`` needs ``render_mode="rgb_array"`` then).
    """
    n_images = len(env.unwrapped.dataset)
    results, frames = [], []
    for i in range(episodes):
        obs, info = env.reset(seed=i, options={"index": i % n_images})
        recording = i < record
        if recording:
            frames.append(env.render())
        steps, terminated, truncated = 0, False, False
        while not (terminated or truncated):
            obs, _, terminated, truncated, info = env.step(policy(obs, env))
            steps += 1
            if recording:
                frames.append(env.render())
        results.append(Episode(steps, bool(terminated), float(info["iou"])))
    return results, frames


def summarize(episodes: list[Episode]) -> dict[str, float]:
    if not episodes:
        raise ValueError("no episodes to summarize")
    iou = np.array([e.iou for e in episodes])
    triggered = np.array([e.triggered for e in episodes])
    summary = {f"success@{t}": float(np.mean(triggered & (iou >= t))) for t in THRESHOLDS}
    summary |= {
        "mean_iou": float(iou.mean()),
        "median_steps": float(np.median([e.steps for e in episodes])),
        "trigger_rate": float(triggered.mean()),
        "episodes": len(episodes),
    }
    return summary


def format_table(rows: dict[str, dict[str, float]]) -> str:
    """One line per policy: the summaries of :func:`summarize` side by side."""
    keys = [f"success@{t}" for t in THRESHOLDS] + ["mean_iou", "median_steps", "trigger_rate", "episodes"]
    width = max(len(name) for name in [*rows, "policy"])
    lines = ["policy".ljust(width) + "".join(k.rjust(14) for k in keys)]
    for name, summary in rows.items():
        cells = "".join(
            (f"{summary[k]:.3f}" if isinstance(summary[k], float) else str(summary[k])).rjust(14) for k in keys
        )
        lines.append(name.ljust(width) + cells)
    return "\n".join(lines)


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


def write_animation(frames: list[np.ndarray], path: str | Path, fps: float = 4.0) -> Path:
    """Write frames as a GIF (``.gif``) or an MP4 (``.mp4``); frames of different sizes are padded black."""
    import imageio.v3 as iio

    path = Path(path)
    if not frames:
        raise ValueError(f"{path}: no frames to write")
    if path.suffix not in (".gif", ".mp4"):
        raise ValueError(f"{path}: animation must end in .gif or .mp4")
    h = max(f.shape[0] for f in frames)
    w = max(f.shape[1] for f in frames)
    h, w = h + h % 2, w + w % 2  # H.264 needs even sides
    video = np.zeros((len(frames), h, w, 3), np.uint8)
    for i, f in enumerate(frames):
        video[i, : f.shape[0], : f.shape[1]] = f
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gif":
        iio.imwrite(path, video, duration=1000 / fps, loop=0)
    else:
        iio.imwrite(path, video, fps=fps, codec="libx264")
    return path


def main(argv: list[str] | None = None) -> dict[str, float]:
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
    episodes, frames = run_episodes(env, model_policy(model), args.episodes, record=args.record)
    summary = summarize(episodes)
    out = args.out or find_config(args.model).parent / "eval"
    out.mkdir(parents=True, exist_ok=True)
    data = env.unwrapped.config["dataset"]
    (out / "metrics.yml").write_text(yaml.safe_dump({"model": str(args.model), "data": data, **summary}))
    print(f"{args.model} on {data}")
    print(format_table({config["algo"]: summary}))
    if frames:
        print(f"animation: {write_animation(frames, out / f'episodes.{args.video}')}")
    return summary


if __name__ == "__main__":
    main()
