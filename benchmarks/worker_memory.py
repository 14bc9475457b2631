"""Memory of a subprocess env worker: SB3's ``SubprocVecEnv`` against make_venv's torch-free workers, same run.

The default PPO run steps its envs in 16 worker processes; SB3's workers import torch (their worker function and
``Monitor`` live in stable_baselines3), which the envs never use. Both venvs are built from the default PPO entry
(hyperparams/ppo.yml's ``n_envs`` and ``env_kwargs``), stepped a little, and their workers' resident (VmRSS) and
private (Private_Clean + Private_Dirty, what each worker costs alone) memory read from /proc. Linux only.

    python -m facebox.benchmarks.worker_memory --steps 100
    python -m facebox.benchmarks.worker_memory --n-envs 8 --steps 400 --data-root ../shared/data   # real-face env

With ``--data-root`` the envs are the real-face agent's (:mod:`facebox.benchmarks.real_faces`: the training mixture
and its shared decoded-image cache), and each worker's proportional share (Pss: a page shared by k processes counts
1/k in each) is printed too: the cache's pages are resident in every worker that touched them but held once.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import numpy as np
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import SubprocVecEnv, VecEnv

from facebox.agents.hyperparams import load_hyperparams
from facebox.agents.models import make_venv
from facebox.benchmarks.real_faces import training_config

__all__ = ["main", "worker_memory_mb"]

ENV_ID = "facebox/FaceLocalization-v0"


def _kb(path: Path, keys: tuple[str, ...]) -> int:
    fields = dict(line.split(":", 1) for line in path.read_text().splitlines() if ":" in line)
    return sum(int(fields[key].split()[0]) for key in keys)


def worker_memory_mb(pid: int) -> tuple[float, float, float]:
    """(resident, private, proportional) memory of process ``pid`` in MB."""
    proc = Path("/proc") / str(pid)
    rss = _kb(proc / "status", ("VmRSS",))
    private = _kb(proc / "smaps_rollup", ("Private_Clean", "Private_Dirty"))
    return rss / 1024, private / 1024, _kb(proc / "smaps_rollup", ("Pss",)) / 1024


def measure(venv: VecEnv, steps: int, seed: int) -> tuple[float, float, float]:
    """Mean (resident, private, proportional) MB per worker of ``venv`` after ``steps`` random steps; closes it."""
    rng = np.random.default_rng(seed)
    try:
        venv.reset()
        for _ in range(steps):
            venv.step(rng.integers(0, venv.action_space.n, venv.num_envs))
        rss, private, pss = np.mean([worker_memory_mb(p.pid) for p in venv.processes], axis=0)
    finally:
        venv.close()
    return float(rss), float(private), float(pss)


def main(argv: list[str] | None = None) -> dict[str, tuple[float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="random steps before measuring")
    parser.add_argument("--n-envs", type=int, default=None, help="workers (default: hyperparams/ppo.yml's n_envs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-root", type=Path, help="the shared data folder: measure the real-face agent's envs")
    args = parser.parse_args(argv)

    hp = load_hyperparams("ppo", ENV_ID)
    n_envs, env_kwargs = args.n_envs or int(hp["n_envs"]), dict(hp.get("env_kwargs") or {})
    if args.data_root:
        env_config = {**env_kwargs.get("config", {}), **training_config(args.data_root / "train")[0]}
        env_kwargs = {**env_kwargs, "config": env_config}
    if n_envs < 2:
        raise SystemExit(f"--n-envs {n_envs}: a single env runs in-process, with no worker to measure")
    sb3 = make_vec_env(
        gym.spec(ENV_ID).make, n_envs=n_envs, seed=args.seed, env_kwargs=env_kwargs, vec_env_cls=SubprocVecEnv
    )
    results = {"SB3 SubprocVecEnv": measure(sb3, args.steps, args.seed)}
    results["make_venv (torch-free)"] = measure(make_venv(ENV_ID, n_envs, args.seed, env_kwargs), args.steps, args.seed)
    print(f"{n_envs} workers of {ENV_ID}, {args.steps} steps; MB per worker (mean)")
    print(f"{'':<24} {'VmRSS':>8} {'private':>8} {'Pss':>8}")
    for name, (rss, private, pss) in results.items():
        print(f"{name:<24} {rss:8.0f} {private:8.0f} {pss:8.0f}")
    (old_rss, old_private, _), (new_rss, new_private, _) = results.values()
    print(f"{'ratio SB3 / torch-free':<24} {old_rss / new_rss:8.2f} {old_private / new_private:8.2f}")
    return results


if __name__ == "__main__":
    main()
