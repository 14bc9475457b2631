"""Strict layered configuration shared by every layer: class defaults deep-merged with what the user passes.

A misspelt key that is silently ignored costs a researcher a training run, so every config mistake — an unknown
key, a wrong type, an unknown name in a registry, a malformed ``key=value`` override — raises one error type,
``ConfigError``, naming the key, what was expected and what was given. Sections whose keys depend on a pluggable
type (``observation``, ``action``, ``encoder``) are checked against that type's own defaults.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

__all__ = ["ConfigError", "Configurable", "deep_update", "lookup", "merge_config", "parse_overrides"]


class ConfigError(ValueError):
    """A config mistake: the message names the key (or file), what was expected and what was given."""


def merge_config(defaults: Mapping, overrides: Mapping | None, where: str = "config") -> dict:
    """Return ``defaults`` deep-merged with ``overrides``; an unknown key raises naming its path and the valid keys."""
    merged = copy.deepcopy(dict(defaults))
    if overrides is None:
        return merged
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(overrides).__name__} {overrides!r}")
    for key, value in overrides.items():
        path = f"{where}[{key!r}]"
        if key not in merged:
            raise ConfigError(f"unknown key {path}; valid keys: {sorted(merged)}")
        if isinstance(merged[key], Mapping) and isinstance(value, Mapping):
            merged[key] = merge_config(merged[key], value, path) if merged[key] else dict(value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def deep_update(base: Mapping, overrides: Mapping) -> dict:
    """``base`` with ``overrides`` merged in, mappings recursively, accepting new keys: for layers whose inner keys
    are checked by their owners (the env's strict config, an algorithm's or a policy's signature)."""
    out = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_update(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def lookup(registry: Mapping[str, Any], name: str, what: str) -> Any:
    """``registry[name]``, or a ``ConfigError`` listing the valid names."""
    try:
        return registry[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown {what} {name!r}; expected one of {sorted(registry)}") from None


def parse_overrides(pairs: Iterable[str], where: str = "override") -> dict:
    """``["a.b=1", "c=[2, 3]"]`` -> ``{"a": {"b": 1}, "c": [2, 3]}``; values are YAML scalars/lists (never eval'ed)."""
    out: dict = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{where} {pair!r}: expected key=value")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"{where} {pair!r}: the value is not valid YAML ({err})") from None
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{where} {pair!r}: {part!r} is set to a value and used as a section")
        node[leaf] = value
    return out


class Configurable:
    """A pluggable type built from a config section ``{"type": name, **options}``.

    Subclasses declare ``defaults``; the section may set only those keys.
    """

    defaults: dict[str, Any] = {}

    def __init__(self, section: Mapping, where: str) -> None:
        options = {k: v for k, v in section.items() if k != "type"}
        self.config = merge_config(self.defaults, options, where)
