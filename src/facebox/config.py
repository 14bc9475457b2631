"""Strict layered configuration shared by every layer: class defaults deep-merged with what the user passes.

A misspelt key that is silently ignored costs a researcher a training run, so every config mistake — an unknown
key, a wrong type or a value out of range (each key declares a :class:`Rule` next to its default), an unknown name
in a registry, a malformed ``key=value`` override — raises one error type, ``ConfigError``, naming the key, what was
expected and what was given. Sections whose keys depend on a pluggable type (``observation``, ``action``,
``encoder``) are checked against that type's own defaults and rules.
"""

from __future__ import annotations

import copy
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import yaml

__all__ = [
    "ConfigError",
    "Configurable",
    "Rule",
    "check_values",
    "deep_update",
    "instance_of",
    "lookup",
    "merge_config",
    "number",
    "one_of",
    "parse_overrides",
]


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


@dataclass(frozen=True)
class Rule:
    """What one config value must be: ``test(value)`` says whether it is, ``expected`` says so in the error.

    Checked when the config is built, since a ``"0.5"`` or a NaN that gets through fails only steps later, deep in
    the arithmetic, or not at all (a NaN threshold silently makes every comparison false).
    """

    expected: str
    test: Callable[[Any], bool]


_COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def number(
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    integer: bool = False,
) -> Rule:
    """A finite real number (an integral one with ``integer=True``) within the given bounds (at most one lower and
    one upper). A bool is no number here, though Python counts ``True`` as 1; NaN and infinities fail too."""
    bounds = [(op, bound) for op, bound in ((">", gt), (">=", ge), ("<", lt), ("<=", le)) if bound is not None]
    noun = "an integer" if integer else "a number"
    if len(bounds) == 2:
        (low_op, low), (high_op, high) = bounds
        expected = f"{noun} in {'(' if low_op == '>' else '['}{low:g}, {high:g}{')' if high_op == '<' else ']'}"
    else:
        expected = " ".join([noun, *(f"{op} {bound:g}" for op, bound in bounds)])

    def test(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, Integral if integer else Real):
            return False
        finite = isinstance(value, Integral) or math.isfinite(value)  # (a huge int overflows math.isfinite)
        return finite and all(_COMPARE[op](value, bound) for op, bound in bounds)

    return Rule(expected, test)


def one_of(*names: str) -> Rule:
    """One of the given names (strings)."""
    return Rule(f"one of {names}", lambda value: isinstance(value, str) and value in names)


def instance_of(*types: type) -> Rule:
    """An instance of one of ``types``."""
    return Rule(f"a {' or '.join(t.__name__ for t in types)}", lambda value: isinstance(value, types))


def check_values(values: Mapping, rules: Mapping[str, Rule], where: str = "config") -> None:
    """Raise a ``ConfigError`` naming the first key of ``values`` that breaks its rule, what it expects and what it
    got. Every key needs a rule: a key without one is a facebox bug, and the ``KeyError`` says which key."""
    for key, value in values.items():
        rule = rules[key]
        if not rule.test(value):
            raise ConfigError(f"{where}[{key!r}]: expected {rule.expected}, got {value!r}")


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

    Subclasses declare ``defaults`` and, next to them, a :class:`Rule` for each key in ``rules``; the section may set
    only those keys, to values their rules accept.
    """

    defaults: dict[str, Any] = {}
    rules: dict[str, Rule] = {}

    def __init__(self, section: Mapping, where: str) -> None:
        options = {k: v for k, v in section.items() if k != "type"}
        self.config = merge_config(self.defaults, options, where)
        check_values(self.config, self.rules, where)
