"""Strict layered configuration: class defaults, deep-merged with what the user passes.

A misspelt key that is silently ignored costs a researcher a training run, so every unknown key raises and
names the valid ones. Sections whose keys depend on a pluggable type (``observation``, ``action``) are
checked against that type's own defaults.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["merge_config", "lookup", "Configurable"]


def merge_config(defaults: Mapping, overrides: Mapping | None, where: str = "config") -> dict:
    """Return ``defaults`` deep-merged with ``overrides``; unknown keys raise ``KeyError`` naming the path."""
    merged = copy.deepcopy(dict(defaults))
    if overrides is None:
        return merged
    if not isinstance(overrides, Mapping):
        raise TypeError(f"{where} must be a mapping, got {type(overrides).__name__}")
    for key, value in overrides.items():
        path = f"{where}[{key!r}]"
        if key not in merged:
            raise KeyError(f"unknown key {path}; valid keys: {sorted(merged)}")
        if isinstance(merged[key], Mapping) and isinstance(value, Mapping):
            merged[key] = merge_config(merged[key], value, path) if merged[key] else dict(value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def lookup(registry: Mapping[str, Any], name: str, what: str) -> Any:
    try:
        return registry[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown {what} {name!r}; expected one of {sorted(registry)}") from None


class Configurable:
    """A pluggable type built from a config section ``{"type": name, **options}``.

    Subclasses declare ``defaults``; the section may set only those keys.
    """

    defaults: dict[str, Any] = {}

    def __init__(self, section: Mapping, where: str) -> None:
        options = {k: v for k, v in section.items() if k != "type"}
        self.config = merge_config(self.defaults, options, where)
