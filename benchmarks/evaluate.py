"""Evaluate a trained agent on face-localization episodes: the localization harness with one ``model:PATH`` row.

    python -m facebox.benchmarks.evaluate --model runs/RUN/final_model.zip [--data wider:PATH] [--episodes 200]
        [--target any] [--out DIR] [--video mp4]
    python -m facebox.benchmarks.evaluate --model logs/ppo/facebox-FaceLocalization-v0_1/best_model.zip  # RL Zoo

Metrics and the episode sweep are :mod:`facebox.envs.rollout`'s (``success@0.5``/``@0.7`` count only
triggered episodes). The observation settings (glimpse size, scene view, history, ...) come from the run's
config (:func:`facebox.runs.load_run_config`: a facebox run's ``config.yml``, or an RL Zoo run's files), so the agent
sees what it was trained on; only the dataset and the target policy may change. To put an agent beside the oracle,
the random policy and Haar in one table, call the harness with ``--policy model:PATH --policy oracle ...``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from facebox.agents.models import load_run, make_eval_env, model_policy
from facebox.benchmarks.report import Table, progress, write_animation
from facebox.envs.rollout import run_episodes, summarize
from facebox.runs import load_run_config

__all__ = ["main"]


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="a .zip saved by facebox.agents.train or rl_zoo3")
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
    sweep = progress(str(args.model))
    episodes, frames, speed = run_episodes(env, model_policy(model), args.episodes, record=args.record, progress=sweep)
    summary = summarize(config["algo"], episodes, speed)
    out = args.out or load_run_config(args.model)[1] / "eval"
    table = Table(out, "metrics", ["policy"])
    table.add(summary)
    data = env.unwrapped.config["dataset"]
    print(f"{args.model} on {data}")
    print(table.write())
    (out / "metrics.yml").write_text(yaml.safe_dump({"model": str(args.model), "data": data, **summary}))
    if frames:
        print(f"animation: {write_animation(frames, out / f'episodes.{args.video}')}")
    return summary


if __name__ == "__main__":
    main()
