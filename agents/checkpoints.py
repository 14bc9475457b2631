"""Checkpoints that resume a run as it was: the model, a DQN's replay buffer and the callbacks' own state.

SB3's zip holds the network and optimizer but not what the callbacks learnt along the way — the warm start's
demonstrations, its geometry head and optimizer, the imitation anchor's schedule — so a resume that reads only the
zip silently drops PPO's anchor. Each checkpoint ``model_N_steps.zip`` therefore has ``callbacks_N_steps.pt``
(tensors and plain values, read with ``weights_only=True``) and, off-policy, ``replay_buffer_N_steps.pkl`` beside
it: the buffer belongs to its checkpoint, so resuming an older one does not start from the newest buffer or an
empty one. A checkpoint is read and checked whole (:func:`read_checkpoint`) before any worker is started, and every
error names the file and the member that is broken.
"""

from __future__ import annotations

import io
import json
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

from facebox.runs import atomic_write

__all__ = [
    "CheckpointError",
    "CheckpointFiles",
    "Checkpoint",
    "checkpoint_files",
    "files_of",
    "save_model",
    "save_checkpoint",
    "validate_model_file",
    "read_checkpoint",
    "restore_checkpoint",
]

_REQUIRED_MEMBERS = ("data", "policy.pth")  # what SB3's load needs of every model zip
_STEPS = re.compile(r"model_(\d+)_steps\.zip")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be resumed from; the message names the file (and the zip member)."""


class CheckpointFiles(NamedTuple):
    model: Path
    buffer: Path  # off-policy models only
    callbacks: Path


class Checkpoint(NamedTuple):
    files: CheckpointFiles
    callback_states: dict[str, Any] | None  # None: saved without callback state (older runs, other tools)


def checkpoint_files(directory: str | Path, num_timesteps: int) -> CheckpointFiles:
    """The files of the checkpoint at ``num_timesteps`` in ``directory``."""
    directory = Path(directory)
    return CheckpointFiles(*(directory / f"{kind}_{num_timesteps}_steps.{ext}" for kind, ext in _KINDS))


_KINDS = (("model", "zip"), ("replay_buffer", "pkl"), ("callbacks", "pt"))


def files_of(model_path: str | Path) -> CheckpointFiles:
    """The checkpoint files that go with a model file: by step count for ``model_N_steps.zip``, else by stem."""
    model_path = Path(model_path)
    match = _STEPS.fullmatch(model_path.name)
    if match:
        return checkpoint_files(model_path.parent, int(match.group(1)))
    return CheckpointFiles(*(model_path.with_name(f"{model_path.stem}.{kind}.{ext}") for kind, ext in _KINDS))


def save_model(model: BaseAlgorithm, path: str | Path) -> Path:
    return atomic_write(path, model.save)


def _stateful(callbacks: list) -> dict[str, Any]:
    """The callbacks that carry state, by position and class (a run's callback list is rebuilt from its config,
    so the same callback gets the same key on resume)."""
    return {f"{i}:{type(c).__name__}": c for i, c in enumerate(callbacks) if hasattr(c, "state_dict")}


def save_checkpoint(model: BaseAlgorithm, files: CheckpointFiles, callbacks: list, buffer: bool = True) -> Path:
    """Write the model, its replay buffer (off-policy, with ``buffer``) and the callbacks' state, each atomically."""
    save_model(model, files.model)
    if buffer and isinstance(model, OffPolicyAlgorithm):
        atomic_write(files.buffer, model.save_replay_buffer)
    states = {key: c.state_dict() for key, c in _stateful(callbacks).items()}
    atomic_write(files.callbacks, lambda f: torch.save(states, f))
    return files.model


def validate_model_file(path: str | Path) -> None:
    """Check an SB3 model zip whole — the archive, every member's CRC, the JSON ``data``, every torch member —
    so that a broken file is named here, not by a raw torch or JSON error after the workers have started."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            missing = [m for m in _REQUIRED_MEMBERS if m not in archive.namelist()]
            if missing:
                raise CheckpointError(f"{path}: not an SB3 model zip: members {missing} missing")
            broken = archive.testzip()
            if broken is not None:
                raise CheckpointError(f"{path}: member {broken!r} is corrupt (CRC mismatch)")
            try:
                json.loads(archive.read("data"))
            except ValueError as e:
                raise CheckpointError(f"{path}: member 'data' is not valid JSON ({e})") from None
            for member in (m for m in archive.namelist() if m.endswith(".pth")):
                try:
                    torch.load(io.BytesIO(archive.read(member)), map_location="cpu", weights_only=True)
                except Exception as e:  # torch raises many kinds for a damaged file
                    raise CheckpointError(f"{path}: member {member!r} is not a readable torch file ({e})") from None
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise CheckpointError(f"{path}: not a readable zip file ({e})") from None


def read_checkpoint(model_path: str | Path, off_policy: bool) -> Checkpoint:
    """Check everything a resume from ``model_path`` will read, and read the callbacks' state."""
    files = files_of(model_path)
    validate_model_file(files.model)
    if off_policy and not files.buffer.is_file():
        warnings.warn(
            f"{files.buffer}: no replay buffer saved with {files.model.name}; the resumed run starts with an empty "
            "buffer and refills it before learning",
            stacklevel=2,
        )
    if not files.callbacks.is_file():
        return Checkpoint(files, None)
    try:
        states = torch.load(files.callbacks, map_location="cpu", weights_only=True)
    except Exception as e:  # as above
        raise CheckpointError(f"{files.callbacks}: not a readable callback-state file ({e})") from None
    if not isinstance(states, dict):
        raise CheckpointError(f"{files.callbacks}: expected a mapping of callback states, got {type(states).__name__}")
    return Checkpoint(files, states)


def restore_checkpoint(model: BaseAlgorithm, checkpoint: Checkpoint, callbacks: list) -> None:
    """Give ``model`` its replay buffer and the callbacks their state, as :func:`save_checkpoint` wrote them."""
    if isinstance(model, OffPolicyAlgorithm) and checkpoint.files.buffer.is_file():
        try:
            model.load_replay_buffer(checkpoint.files.buffer)
        except Exception as e:  # a truncated pickle raises EOFError, UnpicklingError, ...
            raise CheckpointError(f"{checkpoint.files.buffer}: not a readable replay buffer ({e})") from None
    stateful = _stateful(callbacks)
    if checkpoint.callback_states is None:
        if stateful:
            warnings.warn(
                f"{checkpoint.files.callbacks}: no callback state saved with {checkpoint.files.model.name}; "
                f"{', '.join(stateful)} start afresh",
                stacklevel=2,
            )
        return
    if set(checkpoint.callback_states) != set(stateful):
        raise CheckpointError(
            f"{checkpoint.files.callbacks}: holds the state of callbacks {sorted(checkpoint.callback_states)}, "
            f"but the run's config builds {sorted(stateful)}"
        )
    for key, callback in stateful.items():
        callback.load_state_dict(checkpoint.callback_states[key])
