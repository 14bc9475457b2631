"""Train a DQN or PPO agent on a facebox environment, RL-Zoo style.

    python -m facebox.agents.train --algo ppo --env facebox/FaceLocalization-v0 [--encoder cnn] [--seed 0]
        [--hyperparams n_timesteps=100000 learning_rate=1.0e-4] [--env-kwargs config.observation.size=64]
        [--guided | --no-guided] [--bc-steps 20000] [--resume runs/RUN/checkpoints/model_50000_steps.zip]

The defaults (``--algo ppo`` with the YAML's behaviour-cloning warm start and imitation anchor) are the default
agent that ``make demo`` trains (docs/experiments.md, 1). Configuration is layered, never evaluated:
``hyperparams/<algo>.yml`` (:mod:`facebox.agents.hyperparams`), then ``--hyperparams`` and ``--env-kwargs`` on the
command line (``key=value``, values parsed by ``yaml.safe_load``). Each run writes a run folder
(:mod:`facebox.runs`) with TensorBoard events (SB3's ``rollout/``, ``train/`` and our ``eval/`` tags).

RL Zoo: the YAML files use only keys the Zoo understands. Encoders are chosen through the policy classes of
:mod:`facebox.agents.policies` and the warm start is a callback. Guided exploration changes the algorithm class
and therefore exists only here (the Zoo trains plain DQN from the same YAML).
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import shlex
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.logger import configure
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

from facebox.agents.callbacks import AtomicCheckpoint, PeriodicEvaluation, StopOnSignal
from facebox.agents.checkpoints import Checkpoint, read_checkpoint, restore_checkpoint, save_model
from facebox.agents.hyperparams import build_callbacks, check_keys, load_hyperparams, with_bc_steps
from facebox.agents.models import ALGOS, algorithm_class, build_model, make_eval_env, make_venv, run_algorithm
from facebox.agents.policies import DQNEncoderPolicy, PPOEncoderPolicy  # noqa: F401  (dotted paths of old runs)
from facebox.config import ConfigError, deep_update, parse_overrides
from facebox.envs.data.sources import held_out
from facebox.interrupts import StopRequested, TrainingInterrupted, catch_signals, stop_requested
from facebox.runs import load_run_config, run_name, shell_command, write_run

__all__ = [
    "DEFAULT_ENV",
    "DEFAULT_ALGO",
    "TrainArgs",
    "Trained",
    "keep_freed_memory",
    "train",
    "resume_command",
    "parser",
    "main",
]

DEFAULT_ENV = "facebox/FaceLocalization-v0"
DEFAULT_ALGO = "ppo"


def _arg(default: Any = None, help: str = "", **cli: Any) -> Any:
    """A :class:`TrainArgs` field: its default, its one-line doc (the ``--help`` text) and argparse extras."""
    if isinstance(default, dict):
        return dataclasses.field(default_factory=dict, metadata={"help": help, **cli})
    return dataclasses.field(default=default, metadata={"help": help, **cli})


@dataclasses.dataclass
class TrainArgs:
    """Everything a training run is asked for; :func:`parser` builds the command line from these fields."""

    algo: str = _arg(DEFAULT_ALGO, "SB3 algorithm", choices=sorted(ALGOS))
    env: str = _arg(DEFAULT_ENV, "registered env id")
    encoder: str | None = _arg(None, "sets policy_kwargs.encoder (cnn, dwsep, vit)")
    seed: int = _arg(0, "seeds the model and the envs (env i gets seed + i)")
    hyperparams: dict = _arg({}, "override YAML entries, e.g. n_timesteps=100000", metavar="KEY=VALUE")
    env_kwargs: dict = _arg({}, "override the env's make() kwargs, e.g. config.tau=0.5", metavar="KEY=VALUE")
    conf_file: Path | None = _arg(None, "hyperparameter YAML (default hyperparams/ALGO.yml)", aliases=("-conf",))
    guided: bool | None = _arg(None, "DQN: explore among the actions with positive reward (default: on for DQN)")
    bc_steps: int | None = _arg(
        None, "behaviour-cloning warm start on this many oracle states, in rounds of the YAML's size (0: off)"
    )
    eval_data: str | None = _arg(None, "held-out data spec (default: the training synthetic set, next seed)")
    eval_freq: int = _arg(25_000, "evaluate every N env steps")
    eval_episodes: int = _arg(100, "episodes per evaluation")
    checkpoint_freq: int = _arg(100_000, "checkpoint every N env steps")
    runs_dir: Path = _arg(Path("runs"), "folder of the run folders")
    resume: Path | None = _arg(None, "a checkpoint .zip to continue (its run's config is reused)")
    progress_bar: bool = _arg(True, "show SB3's progress bar")
    verbose: int = _arg(1, "0: quiet; 1: checkpoints, evaluations and the run folder")
    command: str | None = _arg(None, "the command recorded in command.txt (default: this process's)", cli=False)


class Trained(NamedTuple):
    model: BaseAlgorithm
    run_dir: Path
    config: dict  # the resolved configuration, as written to the run's config.yml


def _new_config(args: TrainArgs) -> dict[str, Any]:
    """The resolved configuration of a new run: everything needed to rebuild its agent and env."""
    overrides = deep_update(args.hyperparams, {"env_kwargs": args.env_kwargs} if args.env_kwargs else {})
    hyperparams = load_hyperparams(args.algo, args.env, overrides, args.conf_file, args.encoder)
    if args.bc_steps is not None:
        hyperparams["callback"] = with_bc_steps(hyperparams, args.bc_steps)
    if args.guided and args.algo != "dqn":
        raise ConfigError(f"--guided is guided exploration for DQN; got --algo {args.algo}")
    env_config = hyperparams.get("env_kwargs", {}).get("config", {})
    return {
        "algo": args.algo,
        "env": args.env,
        "seed": args.seed,
        "guided": args.algo == "dqn" if args.guided is None else args.guided,
        "hyperparams": hyperparams,
        "eval": {
            "data": args.eval_data or held_out(env_config.get("dataset", "synthetic"), offset=1),
            "episodes": args.eval_episodes,
            "freq": args.eval_freq,
        },
        "checkpoint_freq": args.checkpoint_freq,
    }


_RUN_FIXED = ("encoder", "env_kwargs", "conf_file")  # fixed by a run's config: --resume refuses them


def _resumed_config(args: TrainArgs, resume: Path) -> tuple[dict[str, Any], Path, Checkpoint]:
    """The config of the checkpoint's run with ``--hyperparams`` merged in, the run folder and the checkpoint,
    read and checked whole before anything is started."""
    changed = [name for name in _RUN_FIXED if getattr(args, name)]
    if changed or args.guided is not None or args.bc_steps is not None:
        raise ConfigError(f"--resume continues the run's own config; only --hyperparams may override it, got {changed}")
    if not resume.is_file():
        raise FileNotFoundError(f"--resume {resume}: no such checkpoint")
    config, run_dir = load_run_config(resume)
    if config.get("source") == "rl_zoo":
        raise ConfigError(f"--resume {resume}: an RL Zoo run; continue it with the Zoo (rl_zoo3.train -i MODEL)")
    checkpoint = read_checkpoint(resume, off_policy=issubclass(run_algorithm(config, resume), OffPolicyAlgorithm))
    check_keys(args.hyperparams, config["algo"], "--hyperparams")
    config["hyperparams"] = deep_update(config["hyperparams"], args.hyperparams)
    return config, run_dir, checkpoint


def resume_command(checkpoint: Path) -> str:
    """The shell command that continues a run from ``checkpoint`` (its config holds everything else)."""
    return shlex.join([sys.executable, "-m", "facebox.agents.train", "--resume", str(Path(checkpoint).resolve())])


_M_TOP_PAD = -2  # glibc's malloc.h: the free memory kept at the top of the heap when it is trimmed


def keep_freed_memory(pad: int = 1 << 30) -> bool:
    """Let glibc's malloc keep up to ``pad`` bytes of freed heap memory instead of returning it to the system.

    Every training step allocates and frees the same large tensors (a minibatch converted to float, the
    activations, their gradients); by default glibc hands the freed pages back and the next step faults them in
    again, page by page, which in a VM costs as much as the convolutions (docs/experiments.md, 6). Returns whether
    the setting took: not on other C libraries (macOS, Windows, musl).
    """
    if not sys.platform.startswith("linux"):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    return mallopt is not None and mallopt(_M_TOP_PAD, int(pad)) == 1


def train(args: TrainArgs | None = None, /, **fields: Any) -> Trained:
    """Train and return the model, its run folder and its resolved config; ``fields`` replace those of ``args``.

    ``resume`` continues a checkpoint in its own run folder with that run's config, where only ``hyperparams`` may
    change (e.g. a larger ``n_timesteps``): the step count continues, a DQN gets the replay buffer saved with that
    checkpoint back and the callbacks their state (the warm start where it stopped, the imitation anchor).
    Ctrl-C or SIGTERM stops at the next consistent point, saves a checkpoint and raises
    :class:`TrainingInterrupted`, which names it and the command that resumes it.
    """
    args = dataclasses.replace(args or TrainArgs(), **fields)
    resume = None if args.resume is None else Path(args.resume)
    torch.set_num_threads(1)
    keep_freed_memory()
    checkpoint = None
    if resume is not None:
        config, run_dir, checkpoint = _resumed_config(args, resume)
    else:
        config = _new_config(args)
        encoder_name = config["hyperparams"].get("policy_kwargs", {}).get("encoder", "default")
        run_dir = Path(args.runs_dir) / run_name(args.env, args.algo, encoder_name, args.seed)
    hp = config["hyperparams"]
    eval_env = make_eval_env(config)  # built first: a bad env config fails here, not inside a subprocess
    config = write_run(run_dir, config, args.command or shell_command(), exist_ok=resume is not None)
    venv = make_venv(config["env"], int(hp.get("n_envs", 1)), config["seed"], hp.get("env_kwargs"))
    try:
        if checkpoint is not None:
            model = algorithm_class(config["algo"], config["guided"]).load(resume, env=venv, device="cpu")
        else:
            model = build_model(config["algo"], hp, venv, config["seed"], guided=config["guided"])
        model.set_logger(configure(str(run_dir), ["tensorboard"]))
        stateful = [
            *build_callbacks(hp),
            PeriodicEvaluation(eval_env, config["eval"]["freq"], config["eval"]["episodes"], verbose=args.verbose),
        ]
        checkpointer = AtomicCheckpoint(
            run_dir / "checkpoints", config["checkpoint_freq"], stateful, verbose=args.verbose
        )
        if checkpoint is not None:
            restore_checkpoint(model, checkpoint, stateful)
        stopper = StopOnSignal()
        remaining = int(hp["n_timesteps"]) - model.num_timesteps
        with catch_signals():
            try:
                if remaining > 0:
                    model.learn(
                        remaining,
                        callback=[stopper, *stateful, checkpointer],
                        reset_num_timesteps=checkpoint is None,
                        progress_bar=args.progress_bar,
                    )
            except StopRequested:  # raised by the warm start, where SB3 does not look for a stop
                pass
            signum = stop_requested()
            if signum is not None:
                stopper.rewind()
                saved = checkpointer.save()
                raise TrainingInterrupted(signum, saved, resume_command(saved))
        save_model(model, run_dir / "final_model.zip")
    finally:
        venv.close()
        eval_env.close()
    if args.verbose:
        print(f"run: {run_dir}")
    return Trained(model, run_dir, config)


def parser() -> argparse.ArgumentParser:
    """The command line of :class:`TrainArgs`: one flag per field, its doc as the help."""
    out = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    hints = typing.get_type_hints(TrainArgs)
    for field in dataclasses.fields(TrainArgs):
        extra = dict(field.metadata)
        if not extra.pop("cli", True):
            continue
        kind = next((t for t in typing.get_args(hints[field.name]) if t is not type(None)), hints[field.name])
        if kind is bool:
            extra["action"] = argparse.BooleanOptionalAction
        elif kind is dict:
            extra["nargs"] = "+"
        else:
            extra["type"] = kind
        flag = "--" + field.name.replace("_", "-")
        out.add_argument(flag, *extra.pop("aliases", ()), dest=field.name, **extra)
    out.set_defaults(**{f.name: getattr(TrainArgs(), f.name) for f in dataclasses.fields(TrainArgs)})
    return out


def main(argv: Sequence[str] | None = None) -> Trained:
    """The command line; a run stopped by Ctrl-C or SIGTERM prints how to resume it and exits with 128 + signal."""
    values = vars(parser().parse_args(argv))
    for name in ("hyperparams", "env_kwargs"):
        if isinstance(values[name], list):
            values[name] = parse_overrides(values[name], "--" + name.replace("_", "-"))
    try:
        return train(TrainArgs(**values))
    except TrainingInterrupted as e:
        print(e, file=sys.stderr)
        raise SystemExit(128 + e.signum) from None


if __name__ == "__main__":
    # Run the importable copy of this module: models pickle their policy class by module name, and a class
    # defined in __main__ could not be found when the model is loaded elsewhere.
    from facebox.agents import train as _train

    _train.main()
