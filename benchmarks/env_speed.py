"""Raw single-process env speed: facebox envs against ALE Breakout-v5, measured in the same run.

The reference is measured alongside (interleaved rounds, median of each) so that the printed ratio holds on
whatever machine and load it runs on; absolute steps/s alone would not.

    python -m facebox.benchmarks.env_speed --seconds 3 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np

import facebox  # noqa: F401  (registers the environments)

__all__ = ["steps_per_second", "main"]

GOAL_RATIO = 3.0


def steps_per_second(env: gym.Env, seconds: float, seed: int = 0) -> float:
    """Random actions (uniform, seeded), resetting on episode end; resets count against the time."""
    rng = np.random.default_rng(seed)
    env.action_space.seed(seed)
    env.reset(seed=seed)
    n = int(env.action_space.n) if hasattr(env.action_space, "n") else None
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            action = int(rng.integers(n)) if n is not None else env.action_space.sample()
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        steps += 100
    return steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per env per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    parser.add_argument("--envs", nargs="+", default=["facebox/FaceLocalization-v0"], help="facebox env ids")
    args = parser.parse_args(argv)

    try:
        import ale_py
    except ImportError as e:
        raise SystemExit("ale-py is needed for the reference: pip install ale-py (it ships the ROMs)") from e
    gym.register_envs(ale_py)
    envs = {"ALE/Breakout-v5": gym.make("ALE/Breakout-v5")} | {env_id: gym.make(env_id) for env_id in args.envs}
    rates: dict[str, list[float]] = {name: [] for name in envs}
    for _ in range(args.rounds):
        for name, env in envs.items():
            rates[name].append(steps_per_second(env, args.seconds))
    medians = {name: statistics.median(r) for name, r in rates.items()}
    reference = medians["ALE/Breakout-v5"]
    print(f"{'env':40s} {'steps/s':>10s} {'x ALE':>7s}")
    for name, rate in medians.items():
        print(f"{name:40s} {rate:10.0f} {rate / reference:7.2f}")
    for env_id in args.envs:
        ratio = medians[env_id] / reference
        verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
        print(f"{env_id}: {ratio:.2f}x ALE Breakout-v5 (goal >= {GOAL_RATIO:.0f}x): {verdict}")
    return medians


if __name__ == "__main__":
    main()
