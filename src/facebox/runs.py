"""Run folders: where a training run keeps what is needed to rebuild, resume and evaluate it.

A run is ``runs/<env>__<algo>__<encoder>__s<seed>__<time>/`` with ``config.yml`` (the resolved configuration,
enough to rebuild the agent's env), ``command.txt`` (every command that wrote to it, one per line),
``checkpoints/``, TensorBoard events and ``final_model.zip``. Every reader of a run goes through
:func:`load_run_config`, so a model's config is found and checked one way. Files are replaced atomically: a run
killed mid-save leaves the old file or the complete new one, never a truncated one that a resume would choke on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO

import yaml

from facebox.config import ConfigError

__all__ = ["CONFIG", "run_name", "atomic_write", "write_run", "find_config", "load_run_config"]

CONFIG = "config.yml"
REQUIRED = ("algo", "env", "hyperparams")


def run_name(env_id: str, algo: str, encoder: str, seed: int) -> str:
    """A sortable, unique-per-second folder name that says what was trained."""
    return f"{env_id.replace('/', '-')}__{algo}__{encoder}__s{seed}__{time.strftime('%Y%m%d-%H%M%S')}"


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


def write_run(run_dir: str | Path, config: Mapping, command: str, exist_ok: bool = False) -> Path:
    """Create (or, resuming, reuse) ``run_dir``: write its ``config.yml`` and append ``command`` to ``command.txt``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=exist_ok)
    text = yaml.safe_dump(dict(config), sort_keys=False).encode()
    atomic_write(run_dir / CONFIG, lambda f: f.write(text))
    with open(run_dir / "command.txt", "a") as f:
        f.write(command + "\n")
    return run_dir


def find_config(path: str | Path) -> Path:
    """The run's ``config.yml`` for a run folder or a model in it: beside the model, or one level up for
    ``checkpoints/`` models."""
    path = Path(path)
    folders = (path,) if path.is_dir() else (path.parent, path.parent.parent)
    for folder in folders:
        if (folder / CONFIG).is_file():
            return folder / CONFIG
    raise FileNotFoundError(
        f"{path}: no {CONFIG} in the run folder, beside the model or in its parent folder; the run's config is "
        "needed to rebuild the observation the model was trained on"
    )


def load_run_config(path: str | Path) -> tuple[dict, Path]:
    """The resolved config of the run that ``path`` (a run folder, or a model in it) belongs to, and the run folder.

    Raises ``FileNotFoundError`` without a config and ``ConfigError`` naming the file for one that is not a run's.
    """
    config_path = find_config(path)
    try:
        config = yaml.safe_load(config_path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{config_path}: not valid YAML ({e})") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{config_path}: expected a mapping of run settings, got {type(config).__name__}")
    for key in REQUIRED:
        if key not in config:
            raise ConfigError(f"{config_path}: missing key {key!r} (not a facebox run config?); expected {REQUIRED}")
    return config, config_path.parent
