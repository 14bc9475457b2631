"""Training speed of SB3 PPO and DQN with each facebox encoder, as the default agents train.

Each row builds the model exactly as ``facebox.agents.train --encoder NAME`` does from ``hyperparams/<algo>.yml``
(same vec env, observation, algorithm settings; the YAML's encoder options stay where the encoder takes them, so
``cnn`` is the YAML's CNN, ``dwsep`` the same made separable, ``vit`` at its defaults); ``course`` is the course
CNN at its full widths (32/64/128, FC 500, stride 1) for reference. The behaviour-cloning warm start is left
out: it is supervised learning before RL, timed by the training run itself; but when the YAML freezes the
encoder after it (``freeze: true``), RL runs frozen here too (``--frozen`` / ``--no-frozen`` overrides it).
``--pretrained CHECKPOINT`` adds two PPO rows with the ``pretrained`` encoder on that perception checkpoint (whose
input must be the YAML's glimpse size), its backbone frozen and fine-tuned: what a trained backbone costs in RL
against the scratch encoders; ``--frozen`` does not apply to them, each row says how it trains.
Frames per second are env steps per wall-clock second of ``model.learn`` after a warm-up ``learn`` (which pays
for model building, the first rollout and allocator growth); the env's own random-action steps/s, measured in
the same run, is the reference (the batched env can beat one env's rate). The machine may be shared, so compare
rows of one run rather than absolute numbers.

    python -m facebox.benchmarks.train_speed                       # PPO and DQN, every encoder
    python -m facebox.benchmarks.train_speed --algo ppo --encoder cnn course --steps 8192
    python -m facebox.benchmarks.train_speed --algo ppo --encoder cnn --vec-env batched subprocess
    python -m facebox.benchmarks.train_speed --algo ppo --encoder cnn --pretrained runs/perception/backbone.pt
"""

from __future__ import annotations

import argparse
import copy
import itertools
import time
from collections.abc import Mapping

import gymnasium as gym
import torch

import facebox  # noqa: F401  (registers the environments)
from facebox.agents.encoders import SCRATCH_ENCODERS
from facebox.agents.hyperparams import load_hyperparams, warm_start_options
from facebox.agents.imitation import freeze_encoders
from facebox.agents.models import ALGOS, VEC_ENVS, build_model, make_venv
from facebox.agents.train import DEFAULT_ENV, keep_freed_memory

__all__ = ["env_steps_per_second", "training_fps", "main"]

ENCODER_CHOICES = (*SCRATCH_ENCODERS, "course")


def env_steps_per_second(env_kwargs: dict, steps: int = 3000, seed: int = 0) -> float:
    """Random-action steps/s of one env instance (resets included): the reference for the training fps."""
    env = gym.make(DEFAULT_ENV, **env_kwargs)
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
    steps: int,
    warmup: int,
    seed: int = 0,
    frozen: bool = False,
    encoder_kwargs: Mapping | None = None,
    vec_env: str = "auto",
) -> float:
    """Env steps per second of ``model.learn(steps)`` after ``learn(warmup)``, the YAML's settings otherwise;
    ``frozen`` trains with the encoder frozen, as after a warm start with ``freeze: true``; ``encoder_kwargs``
    replace the YAML's encoder options (``course`` takes none, ``pretrained`` its checkpoint); ``vec_env`` is
    :func:`make_venv`'s kind.
    """
    if encoder == "course":
        encoder, encoder_kwargs = "cnn", {}
    if encoder_kwargs is None:
        hp = copy.deepcopy(load_hyperparams(algo, DEFAULT_ENV, encoder=encoder))
    else:  # swapped in whole: the YAML's options mean nothing to another encoder's
        hp = copy.deepcopy(load_hyperparams(algo, DEFAULT_ENV))
        hp["policy_kwargs"].update(encoder=encoder, encoder_kwargs=dict(encoder_kwargs))
    venv = make_venv(DEFAULT_ENV, int(hp.get("n_envs", 1)), seed, hp.get("env_kwargs"), kind=vec_env)
    try:
        model = build_model(algo, hp, venv, seed)
        if frozen:
            freeze_encoders(model.policy)
        model.learn(warmup)
        done, start = model.num_timesteps, time.perf_counter()  # learn rounds up to whole rollouts
        model.learn(steps, reset_num_timesteps=False)
        return (model.num_timesteps - done) / (time.perf_counter() - start)
    finally:
        venv.close()


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algo", nargs="+", choices=sorted(ALGOS), default=["ppo", "dqn"])
    parser.add_argument("--encoder", nargs="+", choices=ENCODER_CHOICES, default=list(ENCODER_CHOICES))
    parser.add_argument("--steps", type=int, default=4096, help="timed env steps per measurement")
    parser.add_argument("--warmup", type=int, default=2048)
    parser.add_argument(
        "--frozen", action=argparse.BooleanOptionalAction, help="encoder frozen during RL (default: as the YAML)"
    )
    parser.add_argument("--pretrained", metavar="CHECKPOINT", help="perception checkpoint for the pretrained rows")
    parser.add_argument(
        "--vec-env", nargs="+", choices=VEC_ENVS, default=["auto"], help="make_venv kinds to time (batched, subprocess)"
    )
    args = parser.parse_args(argv)
    # One thread and freed memory kept, as facebox.agents.train runs: small batches gain little from a second
    # thread, and with the env subprocesses on the other core OpenMP's barrier would wait on descheduled threads.
    torch.set_num_threads(1)
    keep_freed_memory()
    if not args.pretrained and "ppo" in args.algo:
        print("pretrained rows skipped: give --pretrained CHECKPOINT (a perception checkpoint) to time them")
    rows = []
    print(f"{'algo':5} {'encoder':23} {'frozen':6} {'vec env':10} {'env steps/s':>11} {'train fps':>9} {'vs env':>7}")
    for algo in args.algo:
        hp = load_hyperparams(algo, DEFAULT_ENV)
        env_sps = env_steps_per_second(hp.get("env_kwargs") or {})
        frozen = bool(warm_start_options(hp).get("freeze", False)) if args.frozen is None else args.frozen
        # (row name, encoder, its options or None for the YAML's, frozen)
        runs = [(encoder, encoder, None, frozen) for encoder in args.encoder]
        if args.pretrained and algo == "ppo":
            runs += [
                (f"pretrained ({name})", "pretrained", {"checkpoint": args.pretrained, "freeze": freeze}, freeze)
                for name, freeze in (("frozen", True), ("fine-tuned", False))
            ]
        for (name, encoder, options, frozen_run), kind in itertools.product(runs, args.vec_env):
            fps = training_fps(
                algo, encoder, args.steps, args.warmup, frozen=frozen_run, encoder_kwargs=options, vec_env=kind
            )
            row = {"algo": algo, "encoder": name, "frozen": frozen_run, "vec_env": kind, "env_steps_per_s": env_sps}
            rows.append({**row, "train_fps": fps})
            print(
                f"{algo:5} {name:23} {frozen_run!s:6} {kind:10} {env_sps:11.0f} {fps:9.0f} {fps / env_sps:7.1%}",
                flush=True,
            )
    return rows


if __name__ == "__main__":
    main()
