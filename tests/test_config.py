"""The strict config helpers every layer uses: one ConfigError naming the key, the expected and the given."""

from __future__ import annotations

import math

import numpy as np
import pytest

from facebox.config import (
    ConfigError,
    Configurable,
    check_values,
    deep_update,
    instance_of,
    lookup,
    merge_config,
    number,
    one_of,
    parse_overrides,
)


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


@pytest.mark.parametrize(
    ("rule", "expected", "accepted", "refused"),
    [
        (number(), "a number", [0, -2.5, np.float32(1e30), 10**400], [True, "1", None, math.nan, math.inf, 1j]),
        (number(ge=1), "a number >= 1", [1, 1.0, 8, np.int64(3)], [0.999, 0, -math.inf, math.nan, np.bool_(True)]),
        (number(gt=0, le=1), "a number in (0, 1]", [1e-9, 1, 0.5], [0, 1.0000001, False, True, "0.5"]),
        (number(ge=0, lt=1), "a number in [0, 1)", [0, 0.999], [1, -1e-9, math.nan]),
        (number(le=0), "a number <= 0", [0, -5], [1e-9]),
        (number(ge=1, integer=True), "an integer >= 1", [1, np.int64(7), 10**400], [0, 2.0, True, np.float64(3)]),
        (one_of("a", "b"), "one of ('a', 'b')", ["a", "b"], ["c", None, 1, ["a"]]),
        (instance_of(str, dict), "a str or dict", ["", {}], [None, 1, []]),
    ],
)
def test_rules_say_what_they_expect_and_refuse_bools_nan_and_wrong_types(rule, expected, accepted, refused):
    assert rule.expected == expected
    assert [rule.test(v) for v in accepted] == [True] * len(accepted)
    assert [rule.test(v) for v in refused] == [False] * len(refused)


def test_check_values_names_the_key_under_its_section_the_expected_and_the_value():
    rules = {"size": number(ge=1, integer=True), "tau": number(gt=0, le=1)}
    check_values({"size": 3, "tau": 0.5}, rules, "config['observation']")
    with pytest.raises(ConfigError) as err:
        check_values({"size": 3, "tau": "0.5"}, rules, "config['observation']")
    assert str(err.value) == "config['observation']['tau']: expected a number in (0, 1], got '0.5'"
    with pytest.raises(KeyError, match="scene"):  # a key without a rule is a bug of the declaring class
        check_values({"scene": 0}, rules)


def test_configurable_checks_its_section_against_its_rules():
    class Glimpse(Configurable):
        defaults = {"size": 64, "context": 0.1}
        rules = {"size": number(ge=1, integer=True), "context": number(ge=0)}

    assert Glimpse({"type": "glimpse", "size": 32}, "config['observation']").config == {"size": 32, "context": 0.1}
    with pytest.raises(ConfigError, match=r"^config\['observation'\]\['size'\]: expected an integer >= 1, got 0$"):
        Glimpse({"size": 0}, "config['observation']")
    with pytest.raises(ConfigError, match=r"config\['observation'\]\['context'\]: expected a number >= 0, got nan"):
        Glimpse({"context": math.nan}, "config['observation']")
