"""Env speed in one run: the single env against ALE Breakout-v5, the batched env against the other vector envs, and
the episode throughput of the oracle and of a trained policy.

Every reference is measured alongside (interleaved rounds, median of each) so that the printed ratios hold on
whatever machine and load it runs on; absolute steps/s alone would not. Each facebox row runs on two image sets:
``fresh``, the default env (100,000 synthetic images: nearly every reset draws a new one, ~0.9 ms), and ``repeated``
(1,000 synthetic images in the env's bounded image cache, drawn before timing: what an evaluation sweep or a small
training set costs). Random actions trigger every ~9 steps, so resets weigh as much as in real episodes (~12 steps).

    python -m facebox.benchmarks.env_speed --seconds 3 --rounds 3 [--model runs/.../final_model.zip]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np

import facebox  # noqa: F401  (registers the environments)
from facebox.agents.models import load_run, make_venv
from facebox.agents.policies import model_policy
from facebox.envs.policies import POLICIES
from facebox.envs.rollout import run_episodes

__all__ = ["steps_per_second", "vector_steps_per_second", "main"]

ENV_ID = "facebox/FaceLocalization-v0"
GOAL_SINGLE, GOAL_BATCHED = 3.0, 10.0  # x ALE Breakout-v5; batched N = 32 x the single env
DATA = {"fresh": {}, "repeated": {"dataset": "synthetic?length=1000", "image_cache": 64}}  # 1,000 images: 47 MB
VECTOR_KINDS = ("batched", "sync", "async", "subprocess")


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


def vector_steps_per_second(venv, seconds: float, seed: int = 0) -> float:
    """Env steps/s (all envs) of a Gymnasium vector env or an SB3 VecEnv under random actions; both autoreset."""
    n = venv.num_envs
    rng = np.random.default_rng(seed)
    if isinstance(venv, gym.vector.VectorEnv):
        venv.reset(seed=seed)
    else:
        venv.seed(seed)
        venv.reset()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(10):
            venv.step(rng.integers(0, 9, n))
        steps += 10 * n
    return steps / (time.perf_counter() - start)


def make_vector(kind: str, n: int, env_kwargs: dict):
    if kind == "subprocess":  # SB3's SubprocVecEnv with torch-free workers (32 SB3 workers would hold 17 GB)
        return make_venv(ENV_ID, n, 0, env_kwargs, kind="subprocess")
    mode = "vector_entry_point" if kind == "batched" else kind
    return gym.make_vec(ENV_ID, num_envs=n, vectorization_mode=mode, **env_kwargs)


def warm(env: gym.Env) -> None:
    """Draw every image of a repeated set once, as the cache holds them after the first pass."""
    dataset = env.unwrapped.dataset
    if len(dataset) <= 10_000:
        for i in range(len(dataset)):
            dataset[i]


def episode_rates(policies: dict[str, Callable], env_kwargs: dict, episodes: int) -> dict[str, tuple[float, float]]:
    """(episodes/s, env steps/s) of each policy over the same seeded episodes, the policy's decisions included."""
    rates = {}
    for name, policy in policies.items():
        env = gym.make(ENV_ID, **env_kwargs)
        warm(env)
        start = time.perf_counter()
        results, _, _ = run_episodes(env, policy, episodes)
        seconds = time.perf_counter() - start
        rates[name] = (len(results) / seconds, sum(r.steps for r in results) / seconds)
    return rates


def batched_model_rate(model, n: int, env_kwargs: dict, seconds: float) -> tuple[float, float]:
    """(episodes/s, env steps/s) of a trained policy deciding for ``n`` batched envs in one forward pass a step."""
    venv = make_vector("batched", n, env_kwargs)
    warm(venv.unwrapped.envs[0])
    obs, _ = venv.reset(seed=0)
    episodes = steps = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        actions, _ = model.predict(obs, deterministic=True)
        obs, _, terminated, truncated, _ = venv.step(actions)
        episodes += int((terminated | truncated).sum())
        steps += n
    venv.close()
    elapsed = time.perf_counter() - start
    return episodes / elapsed, steps / elapsed


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per row per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the single envs; median")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 8, 32], help="vector env sizes N")
    parser.add_argument("--vector", nargs="+", choices=VECTOR_KINDS, default=list(VECTOR_KINDS))
    parser.add_argument("--episodes", type=int, default=300, help="episodes per policy for the episode rates")
    parser.add_argument("--model", help="a trained agent (final_model.zip) for the trained policy's rates")
    args = parser.parse_args(argv)
    try:
        import ale_py
    except ImportError as e:
        raise SystemExit("ale-py is needed for the reference: pip install ale-py (it ships the ROMs)") from e
    gym.register_envs(ale_py)

    singles = {"ALE/Breakout-v5": gym.make("ALE/Breakout-v5")}
    for data, kwargs in DATA.items():
        singles[f"single, {data}"] = gym.make(ENV_ID, config=dict(kwargs))
        warm(singles[f"single, {data}"])
    rates: dict[str, list[float]] = {name: [] for name in singles}
    for _ in range(args.rounds):
        for name, env in singles.items():
            rates[name].append(steps_per_second(env, args.seconds))
    result = {name: statistics.median(r) for name, r in rates.items()}
    ale = result["ALE/Breakout-v5"]
    print(f"{'env':44s} {'steps/s':>10s} {'x ALE':>7s} {'x single':>9s}")
    for name, rate in result.items():
        print(f"{name:44s} {rate:10.0f} {rate / ale:7.2f}")
    for data, kwargs in DATA.items():
        single = result[f"single, {data}"]
        for n in args.sizes:
            for kind in args.vector:
                venv = make_vector(kind, n, {"config": dict(kwargs)})
                if kind == "batched":
                    warm(venv.unwrapped.envs[0])
                name = f"{kind} N={n}, {data}"
                result[name] = vector_steps_per_second(venv, args.seconds)
                venv.close()
                print(f"{name:44s} {result[name]:10.0f} {result[name] / ale:7.2f} {result[name] / single:9.2f}")

    policies, model, config = {"greedy oracle": POLICIES["oracle"](0)}, None, dict(DATA["repeated"])
    if args.model:  # the agent's own observation settings, on the repeated synthetic images
        model, run = load_run(args.model)
        policies["trained policy"] = model_policy(model)
        observation = (run["hyperparams"].get("env_kwargs") or {}).get("config", {}).get("observation")
        config |= {"observation": observation} if observation else {}
    print(f"\n{'policy (repeated images)':44s} {'episodes/s':>10s} {'steps/s':>9s}")
    for name, (eps, sps) in episode_rates(policies, {"config": config}, args.episodes).items():
        result[f"{name} episodes/s"] = eps
        print(f"{name + ', single env':44s} {eps:10.1f} {sps:9.0f}")
    if model is not None:
        n = max(args.sizes)
        eps, sps = batched_model_rate(model, n, {"config": config}, args.seconds)
        result[f"trained policy batched N={n} episodes/s"] = eps
        print(f"{f'trained policy, batched N={n}':44s} {eps:10.1f} {sps:9.0f}")

    print()
    for data in DATA:
        ratio = result[f"single, {data}"] / ale
        verdict = _verdict(ratio, GOAL_SINGLE)
        print(f"single env, {data}: {ratio:.2f}x ALE Breakout-v5 (goal >= {GOAL_SINGLE:.0f}x): {verdict}")
        if "batched" in args.vector and 32 in args.sizes:
            ratio = result[f"batched N=32, {data}"] / result[f"single, {data}"]
            verdict = _verdict(ratio, GOAL_BATCHED)
            print(f"batched N=32, {data}: {ratio:.2f}x the single env (goal >= {GOAL_BATCHED:.0f}x): {verdict}")
    return result


def _verdict(ratio: float, goal: float) -> str:
    return "met" if ratio >= goal else "NOT met"


if __name__ == "__main__":
    main()
