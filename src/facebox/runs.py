"""Run folders: where a training run keeps what is needed to rebuild, resume and evaluate it.

A run is ``runs/<env>__<algo>__<encoder>__s<seed>__<time>/`` with ``config.yml`` (the resolved configuration,
enough to rebuild the agent's env, and the facebox version and git commit that wrote it), ``command.txt`` (every
command that wrote to it, one per line, each pasteable into a shell), ``checkpoints/``, TensorBoard events and
``final_model.zip``. Every reader of a run goes through :func:`load_run_config`, so a model's config is found and
checked one way; it also reads the run folders of the RL Zoo (``python -m rl_zoo3.train``, which trains from the
same ``hyperparams/*.yml``), so a Zoo-trained model is evaluated and benchmarked like one of ours. Files are
replaced atomically: a run killed mid-save leaves the old file or the complete new one, never a truncated one that a
resume would choke on.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import yaml

from facebox import __version__
from facebox.config import ConfigError

__all__ = [
    "CONFIG",
    "ZOO_ARGS",
    "run_name",
    "shell_command",
    "git_commit",
    "atomic_write",
    "write_run",
    "find_config",
    "load_run_config",
]

CONFIG = "config.yml"
ZOO_ARGS = "args.yml"  # the RL Zoo's command line, beside its config.yml (the hyperparameters)
REQUIRED = ("algo", "env", "hyperparams")
ZOO_REQUIRED = ("algo", "env", "seed")
# Zoo hyperparameters that wrap the env or normalise its observations: facebox rebuilds a run's env from its
# env_kwargs alone, so a model trained behind one of these would be fed observations it never saw.
ZOO_WRAPPERS = ("normalize", "frame_stack", "env_wrapper", "vec_env_wrapper")


def run_name(env_id: str, algo: str, encoder: str, seed: int) -> str:
    """A sortable, unique-per-second folder name that says what was trained."""
    return f"{env_id.replace('/', '-')}__{algo}__{encoder}__s{seed}__{time.strftime('%Y%m%d-%H%M%S')}"


def shell_command(argv: Sequence[str] | None = None) -> str:
    """``argv``, by default this process's command line as typed (``sys.orig_argv``), quoted for a POSIX shell.

    ``sys.orig_argv`` keeps ``python -m facebox.agents.train`` where ``sys.argv[0]`` is the module's file, which run
    as a script would define the policy classes in ``__main__``; quoting keeps a data spec with ``?``/``&`` or a path
    with spaces one argument. So a ``command.txt`` line can be pasted back into a shell.
    """
    return shlex.join(sys.orig_argv if argv is None else argv)


def git_commit(source: str | Path = __file__) -> str | None:
    """The commit checked out where ``source`` (by default this file) is tracked by git, with ``-dirty`` when the
    checkout has changes (``git status --porcelain``), so that a run names the code that trained it.

    None when ``source`` is not tracked (an installed copy; the run's ``facebox_version`` then names the code) or
    git is missing or fails: recording provenance must never stop a run.
    """
    source = Path(source).resolve()

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=source.parent, capture_output=True, text=True, check=True, timeout=60)
        return done.stdout.strip()

    try:
        git("ls-files", "--error-unmatch", source.name)  # fails outside a checkout, or in a repo that ignores it
        commit, dirty = git("rev-parse", "HEAD"), git("status", "--porcelain")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(file)`` on a temporary file in ``path``'s folder, then rename it over ``path``.

    The rename is atomic on one file system, so readers see the old file or the complete new one, never half.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_run(run_dir: str | Path, config: Mapping, command: str, exist_ok: bool = False) -> dict:
    """Create (or, resuming, reuse) ``run_dir``: write its ``config.yml`` and append ``command`` to ``command.txt``;
    return the config as written.

    The config gets ``facebox_version`` and ``git_commit`` of the code writing it (resuming: of the code that
    continues the run), so that a result can be traced to the code that produced it.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=exist_ok)
    config = {**config, "facebox_version": __version__, "git_commit": git_commit()}
    text = yaml.safe_dump(config, sort_keys=False).encode()
    atomic_write(run_dir / CONFIG, lambda f: f.write(text))
    with open(run_dir / "command.txt", "a") as f:
        f.write(command + "\n")
    return config


def _zoo_args(folder: Path) -> Path | None:
    """The RL Zoo's ``args.yml`` of the Zoo run folder ``folder``, if it is one: the Zoo saves a run as
    ``<algo>/<env>_<n>/`` (``<env>`` the env id with ``/`` as ``-``) with its files in the subfolder ``<env>/``."""
    return next((p for p in sorted(folder.glob(f"*/{ZOO_ARGS}")) if folder.name.startswith(f"{p.parent.name}_")), None)


def find_config(path: str | Path) -> Path:
    """The file that describes the run of ``path`` (a run folder, or a model in it): facebox's ``config.yml`` in the
    run folder (beside the model, or one level up for ``checkpoints/`` models), or the RL Zoo's ``args.yml`` (its
    final, best and checkpoint models sit beside the ``<env>/`` subfolder that holds it)."""
    path = Path(path)
    folders = (path,) if path.is_dir() else (path.parent, path.parent.parent)
    for folder in folders:
        if (folder / CONFIG).is_file():
            return folder / CONFIG
        if zoo := _zoo_args(folder):
            return zoo
    raise FileNotFoundError(
        f"{path}: no {CONFIG} in the run folder, beside the model or in its parent folder, and not in an RL Zoo run "
        f"folder (<env>_<n>/ with <env>/{ZOO_ARGS}); the run's config is needed to rebuild the observation the model "
        "was trained on"
    )


class _ZooLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` plus the one Python tag the RL Zoo writes: its ``args.yml`` and ``config.yml`` are
    ``yaml.dump`` of an ``OrderedDict``, which reads here as a dict; every other Python tag still raises."""


def _ordered_dict(loader: yaml.SafeLoader, node: yaml.Node) -> dict:
    args = loader.construct_sequence(node, deep=True)
    try:
        (pairs,) = args
        return dict(pairs)
    except (TypeError, ValueError):
        raise yaml.constructor.ConstructorError(
            None, None, f"expected an OrderedDict's [key, value] pairs, got {args!r}", node.start_mark
        ) from None


_ZooLoader.add_constructor("tag:yaml.org,2002:python/object/apply:collections.OrderedDict", _ordered_dict)


def _read_mapping(path: Path, loader: type[yaml.SafeLoader], keys: Iterable[str], what: str) -> dict:
    """The YAML mapping in ``path``, which must have ``keys``; errors name the file and the key."""
    try:
        data = yaml.load(path.read_text(), Loader=loader)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping ({what}), got {type(data).__name__}")
    for key in keys:
        if key not in data:
            raise ConfigError(f"{path}: missing key {key!r} (not {what}?); expected {tuple(keys)}")
    return data


def _zoo_config(args_path: Path) -> dict:
    """The facebox run config of the RL Zoo run whose ``args.yml`` is ``args_path``.

    The hyperparameters are the Zoo's ``config.yml`` (the YAML entry after ``--hyperparams``) with the Zoo's
    command-line overrides applied as the Zoo applies them: ``-n`` replaces ``n_timesteps``, ``--env-kwargs`` replaces
    the entry's ``env_kwargs`` (as ``rl_zoo3.enjoy`` reads them). ``source: rl_zoo`` marks the run as the Zoo's
    (facebox reads it but does not write to its folder).
    """
    args = _read_mapping(args_path, _ZooLoader, ZOO_REQUIRED, "an RL Zoo run's arguments")
    config_path = args_path.with_name(CONFIG)
    hyperparams = _read_mapping(config_path, _ZooLoader, (), "an RL Zoo run's hyperparameters")
    for key in ZOO_WRAPPERS:
        if hyperparams.get(key):
            raise ConfigError(
                f"{config_path}: {key}={hyperparams[key]!r} changes what the model observes, and facebox rebuilds a "
                "run's env from its env_kwargs alone"
            )
    if args.get("n_timesteps", -1) > 0:
        hyperparams["n_timesteps"] = args["n_timesteps"]
    hyperparams["env_kwargs"] = args.get("env_kwargs") or hyperparams.get("env_kwargs") or {}
    return {
        "source": "rl_zoo",
        "algo": args["algo"],
        "env": args["env"],
        "seed": args["seed"],
        "guided": False,  # guided exploration is facebox's own DQN class; the Zoo trains SB3's
        "hyperparams": hyperparams,
        # The Zoo names no evaluation data: facebox.agents.models.make_eval_env falls back to the held-out twin.
        "eval": {"data": None, "episodes": args.get("eval_episodes"), "freq": args.get("eval_freq")},
        "checkpoint_freq": args.get("save_freq"),
    }


def load_run_config(path: str | Path) -> tuple[dict, Path]:
    """The resolved config of the run that ``path`` (a run folder, or a model in it) belongs to, and the run folder:
    a facebox run's ``config.yml``, or an RL Zoo run's files mapped to the same keys (:func:`_zoo_config`).

    Raises ``FileNotFoundError`` without a config and ``ConfigError`` naming the file for one that is not a run's.
    Configs written before ``facebox_version`` and ``git_commit`` were recorded read as before.
    """
    config_path = find_config(path)
    if config_path.name == ZOO_ARGS:
        return _zoo_config(config_path), config_path.parent.parent
    return _read_mapping(config_path, yaml.SafeLoader, REQUIRED, "a facebox run config"), config_path.parent
