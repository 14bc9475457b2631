"""Hyperparameters, RL-Zoo style: ``hyperparams/<algo>.yml`` entries, checked key by key, plus command-line overrides.

The entry for the env id is used, else ``default:``; like the RL Zoo, an env entry *replaces* the default rather
than merging with it, so one YAML means the same thing to ``facebox train`` and ``python -m rl_zoo3.train``.
Overrides (``key=value``, dotted keys reach into nested mappings) are merged in. Every key is checked against the
algorithm's signature: a misspelt one raises a ``ConfigError`` naming the valid ones, before anything trains.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from facebox.agents.callbacks import CALLBACKS, BehaviourCloning
from facebox.agents.encoders import encoder_policy_kwargs
from facebox.agents.models import ALGOS, META_KEYS
from facebox.config import ConfigError, deep_update, lookup

__all__ = [
    "HYPERPARAMS_DIR",
    "valid_keys",
    "check_keys",
    "load_hyperparams",
    "callback_entries",
    "build_callbacks",
    "warm_start_options",
    "with_bc_steps",
]

HYPERPARAMS_DIR = Path(__file__).resolve().parent.parent / "hyperparams"
# Algorithm arguments that the trainer sets itself.
_RESERVED = ("self", "policy", "env", "seed", "verbose", "device", "tensorboard_log", "_init_setup_model")
_WARM_START = "facebox.agents.callbacks.BehaviourCloning"


def valid_keys(algo: str) -> list[str]:
    params = inspect.signature(lookup(ALGOS, algo, "algo").__init__).parameters
    return sorted({*META_KEYS, *(p for p in params if p not in _RESERVED)})


def check_keys(hyperparams: Mapping, algo: str, where: str) -> None:
    valid = valid_keys(algo)
    for key in hyperparams:
        if key not in valid:
            raise ConfigError(f"{where}: unknown hyperparameter {key!r} for {algo}; valid keys: {valid}")


def _swap_encoder(hyperparams: Mapping, encoder: str, given: Mapping | None = None) -> dict[str, Any]:
    """The entry with ``encoder``. Options ``given`` with it (``--hyperparams policy_kwargs.encoder_kwargs...``)
    replace the entry's; otherwise the entry's ``encoder_kwargs`` stay if the new encoder takes them (``cnn`` ->
    ``dwsep``: the same network, separable) and are dropped if not (a CNN's widths mean nothing to a transformer)."""
    policy_kwargs = dict(hyperparams.get("policy_kwargs") or {})
    if given is not None:
        encoder_policy_kwargs(encoder, **given)
        return {**hyperparams, "policy_kwargs": {**policy_kwargs, "encoder": encoder, "encoder_kwargs": dict(given)}}
    options = policy_kwargs.get("encoder_kwargs") or {}
    try:
        encoder_policy_kwargs(encoder, **options)
    except ConfigError:
        if not options:
            raise
        policy_kwargs.pop("encoder_kwargs")
        encoder_policy_kwargs(encoder)  # an unknown encoder name still raises
    return {**hyperparams, "policy_kwargs": {**policy_kwargs, "encoder": encoder}}


def load_hyperparams(
    algo: str,
    env_id: str,
    overrides: Mapping | None = None,
    path: str | Path | None = None,
    encoder: str | None = None,
) -> dict[str, Any]:
    """The YAML entry for ``env_id`` (else ``default``) of ``hyperparams/<algo>.yml``, with ``encoder`` swapped in
    (:func:`_swap_encoder`) and then ``overrides`` merged in.

    Raises naming the file and key for an unknown algorithm, a missing entry, or an unknown hyperparameter.
    """
    lookup(ALGOS, algo, "algo")
    path = Path(path) if path else HYPERPARAMS_DIR / f"{algo}.yml"
    try:
        entries = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: hyperparameter file not found") from None
    if not isinstance(entries, dict):
        raise ConfigError(f"{path}: expected a mapping of env ids to hyperparameters")
    key = env_id if env_id in entries else "default"
    if key not in entries:
        raise ConfigError(f"{path}: no entry for {env_id!r} and no 'default' entry; entries: {sorted(entries)}")
    hyperparams = entries[key]
    if not isinstance(hyperparams, dict):
        raise ConfigError(f"{path}: entry {key!r} must be a mapping, got {type(hyperparams).__name__}")
    check_keys(hyperparams, algo, f"{path}[{key!r}]")
    for required in ("n_timesteps", "policy"):
        if required not in hyperparams:
            raise ConfigError(f"{path}[{key!r}]: missing required key {required!r}")
    if encoder is not None:
        given = ((overrides or {}).get("policy_kwargs") or {}).get("encoder_kwargs")
        hyperparams = _swap_encoder(hyperparams, encoder, given)
        if given is not None:  # already in place: merging them again would mix in the entry's
            policy_kwargs = {k: v for k, v in overrides["policy_kwargs"].items() if k != "encoder_kwargs"}
            overrides = {**overrides, "policy_kwargs": policy_kwargs}
    if overrides:
        check_keys(overrides, algo, "--hyperparams")
        hyperparams = deep_update(hyperparams, overrides)
    return hyperparams


def callback_entries(hyperparams: Mapping) -> list[tuple[str, dict]]:
    """The YAML ``callback`` entry (a name, a ``{name: kwargs}``, or a list of them) as ``(name, kwargs)`` pairs,
    each name checked against :data:`CALLBACKS`."""
    entries = hyperparams.get("callback") or []
    out = []
    for entry in entries if isinstance(entries, list) else [entries]:
        name, kwargs = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
        lookup(CALLBACKS, name, "callback (hyperparams['callback'])")
        out.append((name, dict(kwargs or {})))
    return out


def build_callbacks(hyperparams: Mapping) -> list:
    return [CALLBACKS[name](**kwargs) for name, kwargs in callback_entries(hyperparams)]


def warm_start_options(hyperparams: Mapping) -> dict[str, Any]:
    """The options of the entry's :class:`BehaviourCloning` callback (empty without one)."""
    entries = callback_entries(hyperparams)
    return next((kwargs for name, kwargs in entries if CALLBACKS[name] is BehaviourCloning), {})


def with_bc_steps(hyperparams: Mapping, steps: int) -> list[dict]:
    """The entry's callbacks with the warm start's ``steps`` replaced; 0 removes it.

    The other options are kept, except that ``rounds`` scales with ``steps`` so that each round collects as many
    states as the entry's: each round is fitted for ``epochs`` passes over a bounded buffer, so more states in the
    same rounds would mean fresher images but no more gradient steps, and the gradient steps are what the warm
    start is short of (docs/experiments.md, 2.1).
    """
    entries = callback_entries(hyperparams)
    others = [{name: kwargs} for name, kwargs in entries if CALLBACKS[name] is not BehaviourCloning]
    if steps <= 0:
        return others
    options = warm_start_options(hyperparams)
    if "steps" in options:  # the entry's own warm start sets the round size
        rounds = options.get("rounds", inspect.signature(BehaviourCloning).parameters["rounds"].default)
        options["rounds"] = max(1, round(steps * rounds / options["steps"]))
    return [*others, {_WARM_START: {**options, "steps": steps}}]
