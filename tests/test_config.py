"""The strict config helpers every layer uses: one ConfigError naming the key, the expected and the given."""

from __future__ import annotations

import pytest

from facebox.config import ConfigError, deep_update, lookup, merge_config, parse_overrides


def test_merge_is_deep_and_refuses_unknown_keys_naming_their_path_and_the_valid_ones():
    defaults = {"tau": 0.6, "observation": {"type": "glimpse", "size": 64}, "extra": {}}
    merged = merge_config(defaults, {"observation": {"size": 32}, "extra": {"anything": 1}})
    assert merged == {"tau": 0.6, "observation": {"type": "glimpse", "size": 32}, "extra": {"anything": 1}}
    assert defaults["observation"]["size"] == 64  # the defaults are not changed
    with pytest.raises(ConfigError, match=r"config\['observation'\]\['sise'\]; valid keys: \['size', 'type'\]"):
        merge_config(defaults, {"observation": {"sise": 32}})
    with pytest.raises(ConfigError, match="expected a mapping, got list"):
        merge_config(defaults, [1, 2])


def test_deep_update_accepts_new_keys_and_replaces_lists_whole():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 0}
    assert deep_update(base, {"a": {"c": [3], "e": 5}}) == {"a": {"b": 1, "c": [3], "e": 5}, "d": 0}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 0}


def test_lookup_lists_the_valid_names():
    assert lookup({"cnn": 1, "vit": 2}, "vit", "encoder") == 2
    with pytest.raises(ConfigError, match=r"unknown encoder 'vti'; expected one of \['cnn', 'vit'\]"):
        lookup({"cnn": 1, "vit": 2}, "vti", "encoder")
    assert issubclass(ConfigError, ValueError)  # callers that catch ValueError keep working


def test_overrides_are_yaml_values_under_dotted_keys_and_never_evaluated():
    got = parse_overrides(["a.b=1", "c=[2, 3]", "d=__import__('os')", "e=1.0e-4"], "--hyperparams")
    assert got == {"a": {"b": 1}, "c": [2, 3], "d": "__import__('os')", "e": 1e-4}
    for pairs, match in (
        (["a"], "expected key=value"),
        (["a=[1"], "not valid YAML"),
        (["a=1", "a.b=2"], "'a' is set to a value and used as a section"),
    ):
        with pytest.raises(ConfigError, match=match):
            parse_overrides(pairs, "--x")
