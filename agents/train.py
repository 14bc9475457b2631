"""Train a DQN or PPO agent on a facebox environment, RL-Zoo style.

    python -m facebox.agents.train --algo ppo --env facebox/FaceLocalization-v0 [--encoder cnn] [--seed 0]
        [--hyperparams n_timesteps=100000 learning_rate=1.0e-4] [--env-kwargs config.observation.size=64]
        [--guided | --no-guided] [--bc-steps 20000] [--resume runs/RUN/checkpoints/model_50000_steps.zip]

The defaults (``--algo ppo`` with the YAML's behaviour-cloning warm start and imitation anchor) are the default
agent that ``demo()`` trains and compares with the greedy oracle and the random policy: measured, it matches the
guided DQN's success in less time and with shorter episodes (see ``hyperparams/ppo.yml``).

Configuration is layered, never evaluated: ``hyperparams/<algo>.yml`` (the entry for the env id, else
``default:``; like the RL Zoo, an env entry *replaces* the default rather than merging with it, so one YAML
means the same thing to ``facebox train`` and ``python -m rl_zoo3.train``), then ``--hyperparams`` and
``--env-kwargs`` on the command line (``key=value``, dotted keys reach into nested mappings, values parsed by
``yaml.safe_load``). Every key is checked: a misspelt one raises naming the valid ones.

Each run writes ``runs/<env>__<algo>__<encoder>__s<seed>__<time>/`` with ``config.yml`` (the resolved
configuration, enough to rebuild the agent's env), ``command.txt``, TensorBoard events (SB3's ``rollout/``,
``train/`` and our ``eval/`` tags), ``checkpoints/`` and ``final_model.zip``.

RL Zoo: the YAML files use only keys the Zoo understands. Encoders are chosen through the policy classes below
(the Zoo imports a dotted ``policy`` name; ``policy_kwargs`` may be a mapping, which the Zoo passes through
untouched), and the behaviour-cloning warm start is a callback. Guided exploration changes the algorithm class
and therefore exists only here (the Zoo trains plain DQN from the same YAML).
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import inspect
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import gymnasium as gym
import torch
import yaml
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.policies import MultiInputActorCriticPolicy
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv
from stable_baselines3.dqn.policies import MultiInputPolicy as DQNMultiInputPolicy

from facebox.agents.callbacks import AtomicCheckpoint, PeriodicEvaluation, checkpoint_paths, save_model
from facebox.agents.encoders import encoder_policy_kwargs
from facebox.agents.evaluate import ALGOS, find_config, make_eval_env, model_policy
from facebox.agents.exploration import BehaviourCloning, GuidedDQN
from facebox.benchmarks.localize import POLICIES as REFERENCE_POLICIES
from facebox.benchmarks.localize import run_episodes, summarize, write_animation, write_table
from facebox.envs.data import STILL_FORMATS
from facebox.envs.data.sources import parse_spec
from facebox.envs.data.synthetic import SyntheticFaces

__all__ = [
    "DEFAULT_ENV",
    "DEFAULT_ALGO",
    "HYPERPARAMS_DIR",
    "META_KEYS",
    "POLICIES",
    "CALLBACKS",
    "DQNEncoderPolicy",
    "PPOEncoderPolicy",
    "parse_overrides",
    "load_hyperparams",
    "held_out",
    "warm_start_options",
    "make_venv",
    "algorithm_kwargs",
    "train",
    "demo",
    "demo_main",
    "main",
]

HYPERPARAMS_DIR = Path(__file__).resolve().parent.parent / "hyperparams"
# Keys of a YAML entry that are not algorithm arguments (the RL Zoo's names).
META_KEYS = ("n_timesteps", "policy", "n_envs", "policy_kwargs", "env_kwargs", "callback")
# Algorithm arguments that the trainer sets itself.
_RESERVED = ("self", "policy", "env", "seed", "verbose", "device", "tensorboard_log", "_init_setup_model")
DEFAULT_ENV = "facebox/FaceLocalization-v0"
DEFAULT_ALGO = "ppo"


class _EncoderPolicy:
    """Mixin turning ``encoder``/``encoder_kwargs`` policy arguments into SB3's features-extractor arguments.

    Naming the encoder keeps ``policy_kwargs`` plain data, so YAML files need no ``eval`` and saved models record
    which encoder they use.
    """

    def __init__(self, *args, encoder: str = "cnn", encoder_kwargs: Mapping | None = None, **kwargs) -> None:
        kwargs.update(encoder_policy_kwargs(encoder, **dict(encoder_kwargs or {})))
        super().__init__(*args, **kwargs)


class DQNEncoderPolicy(_EncoderPolicy, DQNMultiInputPolicy):
    """DQN ``MultiInputPolicy`` with a facebox encoder (``policy_kwargs: {encoder: cnn, encoder_kwargs: {...}}``)."""


class PPOEncoderPolicy(_EncoderPolicy, MultiInputActorCriticPolicy):
    """PPO ``MultiInputPolicy`` with a facebox encoder (``policy_kwargs: {encoder: cnn, encoder_kwargs: {...}}``)."""


# Dotted names usable as `policy:` / `callback:` in the YAML files (the names the RL Zoo imports).
POLICIES: dict[str, type | str] = {
    "MultiInputPolicy": "MultiInputPolicy",
    "facebox.agents.train.DQNEncoderPolicy": DQNEncoderPolicy,
    "facebox.agents.train.PPOEncoderPolicy": PPOEncoderPolicy,
}
CALLBACKS: dict[str, type] = {"facebox.agents.exploration.BehaviourCloning": BehaviourCloning}
_BC_CALLBACK = "facebox.agents.exploration.BehaviourCloning"


def parse_overrides(pairs: Sequence[str], where: str) -> dict[str, Any]:
    """``["a.b=1", "c=[2, 3]"]`` -> ``{"a": {"b": 1}, "c": [2, 3]}``; values are read with ``yaml.safe_load``."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{where}: expected key=value, got {pair!r}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ValueError(f"{where}: cannot parse the value of {pair!r}: {e}") from None
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{where}: {key!r} sets a key inside a value that is not a mapping")
        node[leaf] = value
    return out


def _deep_update(base: dict, overrides: Mapping) -> dict:
    """``base`` with ``overrides`` merged in, mappings recursively (the inner keys are checked by their owners:
    the env's strict config, the policy's signature)."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_update(dict(out[key]), value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _valid_keys(algo: str) -> list[str]:
    params = inspect.signature(ALGOS[algo].__init__).parameters
    return sorted({*META_KEYS, *(p for p in params if p not in _RESERVED)})


def _check_keys(hyperparams: Mapping, algo: str, where: str) -> None:
    valid = _valid_keys(algo)
    for key in hyperparams:
        if key not in valid:
            raise KeyError(f"{where}: unknown hyperparameter {key!r} for {algo}; valid keys: {valid}")


def load_hyperparams(
    algo: str,
    env_id: str,
    overrides: Mapping | None = None,
    path: str | Path | None = None,
    encoder: str | None = None,
) -> dict[str, Any]:
    """The YAML entry for ``env_id`` (else ``default``) of ``hyperparams/<algo>.yml``, with ``overrides`` merged in.

    ``encoder`` replaces the entry's encoder before the overrides apply; the entry's ``encoder_kwargs`` stay if the
    new encoder takes them (``cnn`` -> ``dwsep``: the same network, separable) and are dropped otherwise (a CNN's
    channel widths mean nothing to a transformer).

    Raises naming the file and key for an unknown algorithm, a missing entry, or an unknown hyperparameter.
    """
    if algo not in ALGOS:
        raise ValueError(f"unknown algo {algo!r}; expected one of {sorted(ALGOS)}")
    path = Path(path) if path else HYPERPARAMS_DIR / f"{algo}.yml"
    try:
        with open(path) as f:
            entries = yaml.safe_load(f) or {}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: hyperparameter file not found") from None
    if not isinstance(entries, dict):
        raise ValueError(f"{path}: expected a mapping of env ids to hyperparameters")
    key = env_id if env_id in entries else "default"
    if key not in entries:
        raise KeyError(f"{path}: no entry for {env_id!r} and no 'default' entry; entries: {sorted(entries)}")
    hyperparams = entries[key]
    if not isinstance(hyperparams, dict):
        raise ValueError(f"{path}: entry {key!r} must be a mapping, got {type(hyperparams).__name__}")
    _check_keys(hyperparams, algo, f"{path}[{key!r}]")
    for required in ("n_timesteps", "policy"):
        if required not in hyperparams:
            raise KeyError(f"{path}[{key!r}]: missing required key {required!r}")
    if encoder is not None:
        policy_kwargs = dict(hyperparams.get("policy_kwargs") or {})
        try:
            encoder_policy_kwargs(encoder, **(policy_kwargs.get("encoder_kwargs") or {}))
        except TypeError:
            policy_kwargs.pop("encoder_kwargs")
        hyperparams = {**hyperparams, "policy_kwargs": {**policy_kwargs, "encoder": encoder}}
    if overrides:
        _check_keys(overrides, algo, "--hyperparams")
        hyperparams = _deep_update(hyperparams, overrides)
    return hyperparams


def held_out(spec: str, offset: int) -> str:
    """The synthetic spec with its seed moved by ``offset``: the same kind of images, none of the same ones.

    Other formats have no such twin (use their validation split), so they raise.
    """
    loader, _, options = parse_spec(spec, STILL_FORMATS)
    if loader is not SyntheticFaces:
        raise ValueError(
            f"training data {spec!r} is not synthetic: name the held-out evaluation data explicitly (--eval-data)"
        )
    default = inspect.signature(SyntheticFaces).parameters["seed"].default
    options["seed"] = str(int(options.get("seed", default)) + offset)
    return f"synthetic?{urlencode(options, safe=',')}"


def _resolve(name: str, registry: Mapping[str, Any], what: str, where: str) -> Any:
    if name not in registry:
        raise ValueError(f"{where}: unknown {what} {name!r}; expected one of {sorted(registry)}")
    return registry[name]


def _callbacks(entries: Any) -> list:
    """Build the YAML ``callback`` entry (a name, a ``{name: kwargs}``, or a list of them) from :data:`CALLBACKS`."""
    out = []
    for entry in entries if isinstance(entries, list) else [entries]:
        name, kwargs = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
        out.append(_resolve(name, CALLBACKS, "callback", "hyperparams['callback']")(**(kwargs or {})))
    return out


def _callback_entries(hyperparams: Mapping) -> list:
    entries = hyperparams.get("callback") or []
    return entries if isinstance(entries, list) else [entries]


def warm_start_options(hyperparams: Mapping) -> dict[str, Any]:
    """The options of the entry's :class:`BehaviourCloning` callback (empty without one)."""
    entries = _callback_entries(hyperparams)
    return next((dict(e[_BC_CALLBACK] or {}) for e in entries if isinstance(e, dict) and _BC_CALLBACK in e), {})


def _with_bc_steps(hyperparams: Mapping, steps: int) -> list:
    """The entry's callbacks with the warm start's ``steps`` replaced; 0 removes it.

    The other options are kept, except that ``rounds`` scales with ``steps`` so that each round collects as many
    states as the entry's: each round is fitted for ``epochs`` passes over a bounded buffer, so more states in the
    same rounds would mean fresher images but no more gradient steps, and the gradient steps are what the warm
    start is short of. Measured with the default PPO warm start, cloning alone, on 1,000 held-out images: 800k
    states in 16 rounds reached 0.805 and 0.789 success@0.5 (seeds 0 and 1, 17-18 min), and 0.735 with 2 epochs
    per round (the gradient steps of the YAML's 400k in 8 rounds, which reached 0.74).
    """
    entries = _callback_entries(hyperparams)
    others = [e for e in entries if not (isinstance(e, dict) and _BC_CALLBACK in e) and e != _BC_CALLBACK]
    if steps <= 0:
        return others
    options = warm_start_options(hyperparams)
    if "steps" in options:  # the entry's own warm start sets the round size
        rounds = options.get("rounds", inspect.signature(BehaviourCloning).parameters["rounds"].default)
        options["rounds"] = max(1, round(steps * rounds / options["steps"]))
    return [*others, {_BC_CALLBACK: {**options, "steps": steps}}]


def make_venv(env_id: str, n_envs: int, seed: int, env_kwargs: Mapping | None) -> VecEnv:
    """``n_envs`` seeded copies (env ``i`` seeded ``seed + i``), in subprocesses when more than one.

    The factory is the env's registered spec (as in the RL Zoo), which pickles without a registry lookup in the
    subprocess.
    """
    return make_vec_env(
        gym.spec(env_id).make,
        n_envs=n_envs,
        seed=seed,
        env_kwargs=dict(env_kwargs or {}),
        vec_env_cls=SubprocVecEnv if n_envs > 1 else DummyVecEnv,
    )


def _run_name(env_id: str, algo: str, encoder: str, seed: int) -> str:
    return f"{env_id.replace('/', '-')}__{algo}__{encoder}__s{seed}__{time.strftime('%Y%m%d-%H%M%S')}"


def algorithm_kwargs(hyperparams: Mapping) -> dict[str, Any]:
    """The entry's arguments for the SB3 algorithm class (everything but the RL Zoo's meta keys)."""
    kwargs = {k: copy.deepcopy(v) for k, v in hyperparams.items() if k not in META_KEYS}
    if isinstance(kwargs.get("train_freq"), list):  # YAML has no tuples; SB3 wants (n, "step")
        kwargs["train_freq"] = tuple(kwargs["train_freq"])
    return kwargs


def _new_config(
    algo: str,
    env_id: str,
    seed: int,
    overrides: Mapping,
    conf_file: str | Path | None,
    encoder: str | None,
    guided: bool | None,
    eval_data: str | None,
    eval_freq: int,
    eval_episodes: int,
    checkpoint_freq: int,
) -> dict[str, Any]:
    """The resolved configuration of a new run: everything needed to rebuild its agent and env."""
    hyperparams = load_hyperparams(algo, env_id, overrides, conf_file, encoder)
    if guided and algo != "dqn":
        raise ValueError(f"--guided is guided exploration for DQN; got --algo {algo}")
    env_config = hyperparams.get("env_kwargs", {}).get("config", {})
    return {
        "algo": algo,
        "env": env_id,
        "seed": seed,
        "guided": algo == "dqn" if guided is None else guided,
        "hyperparams": hyperparams,
        "eval": {
            "data": eval_data or held_out(env_config.get("dataset", "synthetic"), offset=1),
            "episodes": eval_episodes,
            "freq": eval_freq,
        },
        "checkpoint_freq": checkpoint_freq,
    }


def _resumed_config(resume: Path, hyperparams: Mapping) -> tuple[dict[str, Any], Path]:
    """The config of the checkpoint's run with ``hyperparams`` merged in, and the run folder."""
    if not resume.is_file():
        raise FileNotFoundError(f"--resume {resume}: no such checkpoint")
    config_path = find_config(resume)
    with open(config_path) as f:
        config = yaml.safe_load(f)
    _check_keys(hyperparams, config["algo"], "--hyperparams")
    config["hyperparams"] = _deep_update(config["hyperparams"], hyperparams)
    return config, config_path.parent


_M_TOP_PAD = -2  # glibc's malloc.h: the free memory kept at the top of the heap when it is trimmed


def keep_freed_memory(pad: int = 1 << 30) -> bool:
    """Let glibc's malloc keep up to ``pad`` bytes of freed heap memory instead of returning it to the system.

    Every training step allocates and frees the same large tensors (a minibatch converted to float, the
    activations, their gradients); by default glibc hands the freed pages back and the next step faults them in
    again, page by page, which in a VM costs as much as the convolutions. Measured on the project's slower 2-core
    machine, one forward + backward + Adam step of the default CNN on 256 glimpses (2 threads, median of 35):
    64 px 44-57 ms -> 37-43 ms, 128 px (stride 4) 100-123 -> 52-60 ms; a 200k-state warm start (cloning only)
    438 -> 389 s at 64 px and 817 -> 574 s at 128 px, the agents bit for bit the same. Returns whether the
    setting took: not on other C libraries (macOS, Windows, musl).
    """
    if not sys.platform.startswith("linux"):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    return mallopt is not None and mallopt(_M_TOP_PAD, int(pad)) == 1


def train(
    algo: str = DEFAULT_ALGO,
    env_id: str = DEFAULT_ENV,
    *,
    encoder: str | None = None,
    seed: int = 0,
    hyperparams: Mapping | None = None,
    env_kwargs: Mapping | None = None,
    conf_file: str | Path | None = None,
    guided: bool | None = None,
    bc_steps: int | None = None,
    eval_data: str | None = None,
    eval_freq: int = 25_000,
    eval_episodes: int = 100,
    checkpoint_freq: int = 100_000,
    runs_dir: str | Path = "runs",
    resume: str | Path | None = None,
    progress_bar: bool = True,
    verbose: int = 1,
    command: str | None = None,
) -> tuple[BaseAlgorithm, Path]:
    """Train and return the model and its run folder (see the module docstring for the layout).

    ``hyperparams`` / ``env_kwargs`` are overrides merged into the YAML entry; ``encoder`` swaps the encoder
    (:func:`load_hyperparams`); ``bc_steps`` sets the behaviour-cloning warm start's states (0 removes it; the
    rounds scale with it, :func:`_with_bc_steps`); ``guided`` (default: on for DQN) trains a :class:`GuidedDQN`.
    ``resume`` continues a checkpoint in its own run folder with that run's config, where only ``hyperparams`` may
    change (e.g. a larger ``n_timesteps``): the step count continues and a DQN gets its saved replay buffer back.
    """
    torch.set_num_threads(1)
    keep_freed_memory()
    if resume is not None:
        resume = Path(resume)
        if encoder or env_kwargs or conf_file or guided is not None or bc_steps is not None:
            raise ValueError("--resume continues the run's own config; only --hyperparams may override it")
        config, run_dir = _resumed_config(resume, hyperparams or {})
    else:
        overrides = _deep_update(dict(hyperparams or {}), {"env_kwargs": env_kwargs} if env_kwargs else {})
        if bc_steps is not None:
            overrides["callback"] = _with_bc_steps(load_hyperparams(algo, env_id, path=conf_file), bc_steps)
        config = _new_config(
            algo,
            env_id,
            seed,
            overrides,
            conf_file,
            encoder,
            guided,
            eval_data,
            eval_freq,
            eval_episodes,
            checkpoint_freq,
        )
        encoder_name = config["hyperparams"].get("policy_kwargs", {}).get("encoder", "default")
        run_dir = Path(runs_dir) / _run_name(env_id, algo, encoder_name, seed)
    hp = config["hyperparams"]
    eval_env = make_eval_env(config)  # built first: a bad env config fails here, not inside a subprocess
    run_dir.mkdir(parents=True, exist_ok=resume is not None)
    (run_dir / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    with open(run_dir / "command.txt", "a") as f:
        f.write((command or shlex.join([sys.executable, *sys.argv])) + "\n")
    algo_cls = GuidedDQN if config["guided"] else ALGOS[config["algo"]]
    venv = make_venv(config["env"], int(hp.get("n_envs", 1)), config["seed"], hp.get("env_kwargs"))
    try:
        if resume is not None:
            model = algo_cls.load(resume, env=venv, device="cpu")
            buffer = checkpoint_paths(resume.parent, model.num_timesteps)[1]
            if isinstance(model, OffPolicyAlgorithm) and buffer.is_file():
                model.load_replay_buffer(buffer)
        else:
            model = algo_cls(
                _resolve(hp["policy"], POLICIES, "policy", "hyperparams['policy']"),
                venv,
                policy_kwargs=copy.deepcopy(hp.get("policy_kwargs")),
                seed=config["seed"],
                verbose=0,
                device="cpu",
                **algorithm_kwargs(hp),
            )
        model.set_logger(configure(str(run_dir), ["tensorboard"]))
        callbacks = [
            *_callbacks(hp.get("callback") or []),
            AtomicCheckpoint(run_dir / "checkpoints", config["checkpoint_freq"], verbose=verbose),
            PeriodicEvaluation(eval_env, config["eval"]["freq"], config["eval"]["episodes"], verbose=verbose),
        ]
        remaining = int(hp["n_timesteps"]) - model.num_timesteps
        if remaining > 0:
            model.learn(remaining, callback=callbacks, reset_num_timesteps=resume is None, progress_bar=progress_bar)
        save_model(model, run_dir / "final_model.zip")
    finally:
        venv.close()
        eval_env.close()
    if verbose:
        print(f"run: {run_dir}")
    return model, run_dir


def demo(
    runs_dir: str | Path = "runs",
    episodes: int = 1000,
    algo: str = DEFAULT_ALGO,
    seed: int = 0,
    bc_steps: int | None = None,
) -> list[dict[str, object]]:
    """Train the default agent, then compare it with the greedy oracle and the random policy on held-out images.

    ``seed`` and ``bc_steps`` are :func:`train`'s (another seed's agent; a longer or shorter warm start). The
    comparison uses a second held-out seed (not the one evaluated during training), prints the table and
    the paths of the TensorBoard run and of an animation of a few episodes, and returns the summaries.
    """
    start = time.time()
    command = f"facebox.agents.train.demo(algo={algo!r}, seed={seed}, bc_steps={bc_steps})"
    model, run_dir = train(algo, seed=seed, bc_steps=bc_steps, runs_dir=runs_dir, command=command)
    minutes = (time.time() - start) / 60
    with open(run_dir / "config.yml") as f:
        config = yaml.safe_load(f)
    test_data = held_out(config["eval"]["data"], offset=1)
    env = make_eval_env(config, data=test_data, render=True)
    rows = []
    for name, policy in (
        ("agent", model_policy(model)),
        ("greedy oracle", REFERENCE_POLICIES["oracle"](0)),
        ("random", REFERENCE_POLICIES["random"](0)),
    ):
        results, frames, speed = run_episodes(env, policy, episodes, record=4 if name == "agent" else 0)
        rows.append(summarize(name, results, speed))
        if frames:
            animation = write_animation(frames, run_dir / "eval" / "episodes.gif")
    print(
        f"\n{config['env']}, {config['algo']} trained {config['hyperparams']['n_timesteps']} steps in "
        f"{minutes:.1f} min; {episodes} episodes on held-out images ({test_data})"
    )
    print(write_table(rows, run_dir / "eval", "demo"))
    print(f"TensorBoard: tensorboard --logdir {run_dir}")
    print(f"animation:   {animation}")
    return rows


def main(argv: Sequence[str] | None = None) -> tuple[BaseAlgorithm, Path]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algo", choices=sorted(ALGOS), default=DEFAULT_ALGO)
    parser.add_argument("--env", default=DEFAULT_ENV, help="registered env id")
    parser.add_argument("--encoder", help="sets policy_kwargs.encoder (cnn, dwsep, vit)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hyperparams", nargs="+", default=[], metavar="KEY=VALUE", help="override YAML entries")
    parser.add_argument("--env-kwargs", nargs="+", default=[], metavar="KEY=VALUE", help="e.g. config.tau=0.5")
    parser.add_argument("--conf-file", "-conf", type=Path, help="hyperparameter YAML (default hyperparams/ALGO.yml)")
    parser.add_argument(
        "--guided",
        action=argparse.BooleanOptionalAction,
        help="DQN: explore among the actions with positive reward (default: on for DQN)",
    )
    parser.add_argument(
        "--bc-steps",
        type=int,
        help="behaviour-cloning warm start on this many oracle states, in rounds of the YAML's size (0: off)",
    )
    parser.add_argument("--eval-data", help="held-out data spec (default: the training synthetic set, next seed)")
    parser.add_argument("--eval-freq", type=int, default=25_000, help="evaluate every N env steps")
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument("--checkpoint-freq", type=int, default=100_000, help="checkpoint every N env steps")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--resume", type=Path, help="a checkpoint .zip to continue (its run's config is reused)")
    parser.add_argument("--no-progress-bar", action="store_true")
    args = parser.parse_args(argv)
    return train(
        args.algo,
        args.env,
        encoder=args.encoder,
        seed=args.seed,
        hyperparams=parse_overrides(args.hyperparams, "--hyperparams"),
        env_kwargs=parse_overrides(args.env_kwargs, "--env-kwargs"),
        conf_file=args.conf_file,
        guided=args.guided,
        bc_steps=args.bc_steps,
        eval_data=args.eval_data,
        eval_freq=args.eval_freq,
        eval_episodes=args.eval_episodes,
        checkpoint_freq=args.checkpoint_freq,
        runs_dir=args.runs_dir,
        resume=args.resume,
        progress_bar=not args.no_progress_bar,
    )


def demo_main(argv: Sequence[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=demo.__doc__.split("\n")[0])
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--algo", choices=sorted(ALGOS), default=DEFAULT_ALGO)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bc-steps", type=int, help="warm-start states, as for train (default: the YAML's)")
    args = parser.parse_args(argv)
    return demo(args.runs_dir, args.episodes, args.algo, args.seed, args.bc_steps)


if __name__ == "__main__":
    # Run the importable copy of this module: models pickle their policy class by module name, and a class
    # defined in __main__ could not be found when the model is loaded elsewhere.
    from facebox.agents import train as _train

    _train.main()
