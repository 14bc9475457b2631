"""``make demo``: train the default agent, then compare it with the greedy oracle and the random policy.

python -m facebox.benchmarks.cli demo [--seed 0] [--bc-steps 400000] [--episodes 1000]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path

from facebox.agents.models import ALGOS, make_eval_env, model_policy
from facebox.agents.train import DEFAULT_ALGO, train
from facebox.benchmarks import localize
from facebox.benchmarks.cli import command_line
from facebox.benchmarks.report import Table, progress, write_animation
from facebox.envs.data.sources import held_out
from facebox.envs.policies import POLICIES
from facebox.envs.rollout import run_episodes, summarize

__all__ = ["demo", "main"]


def demo(
    runs_dir: str | Path = "runs",
    episodes: int = 1000,
    algo: str = DEFAULT_ALGO,
    seed: int = 0,
    bc_steps: int | None = None,
) -> list[dict[str, object]]:
    """Train the default agent, then compare it with the greedy oracle and the random policy on held-out images.

    ``seed`` and ``bc_steps`` are :func:`facebox.agents.train.train`'s (another seed's agent; a longer or shorter
    warm start). The comparison uses a second held-out seed (not the one evaluated during training), prints the
    table and the paths of the TensorBoard run and of an animation of a few episodes, and returns the summaries. The
    run's ``command.txt`` gets the ``facebox demo`` command that repeats this call, however it was made (``make
    demo``, the console script, Python).
    """
    start = time.time()
    args = ["--runs-dir", str(runs_dir), "--episodes", str(episodes), "--algo", algo, "--seed", str(seed)]
    args += [] if bc_steps is None else ["--bc-steps", str(bc_steps)]
    command = command_line("demo", args)
    model, run_dir, config = train(algo=algo, seed=seed, bc_steps=bc_steps, runs_dir=runs_dir, command=command)
    minutes = (time.time() - start) / 60
    test_data = held_out(config["eval"]["data"], offset=1)
    env = make_eval_env(config, data=test_data, render=True)
    table = Table(run_dir / "eval", "demo", ["policy"])
    for name, policy in (
        ("agent", model_policy(model)),
        ("greedy oracle", POLICIES["oracle"](0)),
        ("random", POLICIES["random"](0)),
    ):
        record = 4 if name == "agent" else 0
        results, frames, speed = run_episodes(env, policy, episodes, record=record, progress=progress(name))
        table.add(summarize(name, results, speed))
        if frames:
            animation = write_animation(frames, run_dir / "eval" / "episodes.gif")
    print(
        f"\n{config['env']}, {config['algo']} trained {config['hyperparams']['n_timesteps']} steps in "
        f"{minutes:.1f} min; {episodes} episodes on held-out images ({test_data})"
    )
    print(table.write())
    print(f"TensorBoard: tensorboard --logdir {run_dir}")
    print(f"animation:   {animation}")
    shared = Path(os.environ.get("FACEBOX_SHARED_DATA", "../shared/data"))
    if shared.is_dir():  # the same agent on real photos, beside Haar: what synthetic training alone gives
        policies = [f"model:{run_dir / 'final_model.zip'}", "oracle", "random", "haar"]
        argv = ["--real-sets", str(shared), "--gif-episodes", "0", "--out", str(run_dir / "eval" / "real")]
        localize.main(argv + [flag for p in policies for flag in ("--policy", p)])
    return table.rows


def main(argv: Sequence[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=demo.__doc__.split("\n")[0])
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--algo", choices=sorted(ALGOS), default=DEFAULT_ALGO)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bc-steps", type=int, help="warm-start states, as for train (default: the YAML's)")
    args = parser.parse_args(argv)
    return demo(args.runs_dir, args.episodes, args.algo, args.seed, args.bc_steps)


if __name__ == "__main__":
    main()
