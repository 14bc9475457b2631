"""Train DQN and PPO with each encoder and compare them with the oracle and the random policy on the same images.

Each agent is trained by ``facebox.agents.train`` from ``hyperparams/<algo>.yml`` with the encoder swapped (the
YAML's ``encoder_kwargs`` stay where the encoder takes them: ``dwsep`` is the YAML's CNN made separable, ``vit``
runs at its defaults), then evaluated on held-out synthetic images (the training seed + 2, which neither training
nor its periodic evaluation saw) next to the greedy oracle and the random policy; one table (Markdown + CSV) with
the RL steps and training minutes beside the localization metrics. Training speed is ``train_speed``'s job.

    python -m facebox.benchmarks.agents --algo dqn ppo --encoder cnn dwsep vit --hyperparams n_timesteps=50000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from facebox.agents.encoders import SCRATCH_ENCODERS
from facebox.agents.models import ALGOS, make_eval_env, model_policy
from facebox.agents.train import train
from facebox.benchmarks.report import Table, progress
from facebox.config import parse_overrides
from facebox.envs.data.sources import held_out
from facebox.envs.policies import POLICIES
from facebox.envs.rollout import run_episodes, summarize

__all__ = ["main"]


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algo", nargs="+", choices=sorted(ALGOS), default=sorted(ALGOS))
    parser.add_argument("--encoder", nargs="+", choices=sorted(SCRATCH_ENCODERS), default=sorted(SCRATCH_ENCODERS))
    parser.add_argument("--hyperparams", nargs="+", default=[], metavar="KEY=VALUE", help="overrides for every run")
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=Path("results/agents"))
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.hyperparams, "--hyperparams")

    table, env = Table(args.out, "results", ["policy"]), None
    for algo in args.algo:
        for encoder in args.encoder:
            start = time.time()
            model, run_dir, config = train(
                algo=algo,
                encoder=encoder,
                hyperparams=overrides,
                seed=args.seed,
                runs_dir=args.runs_dir,
                progress_bar=True,
                command=f"facebox.benchmarks.agents {algo} {encoder}",
            )
            minutes = (time.time() - start) / 60
            env = make_eval_env(config, data=held_out(config["eval"]["data"], offset=1))
            sweep = progress(f"{algo} {encoder}")
            episodes, _, speed = run_episodes(env, model_policy(model), args.episodes, args.seed, progress=sweep)
            steps = config["hyperparams"]["n_timesteps"]
            row = summarize(f"{algo} {encoder}", episodes, speed)
            table.add({**row, "rl_steps": steps, "train_min": minutes, "run": run_dir.name})
    for name in ("oracle", "random"):
        episodes, _, speed = run_episodes(
            env, POLICIES[name](args.seed), args.episodes, args.seed, progress=progress(name)
        )
        table.add({**summarize(name, episodes, speed), "rl_steps": 0, "train_min": 0.0, "run": "-"})
    print(table.write())
    return table.rows


if __name__ == "__main__":
    main()
