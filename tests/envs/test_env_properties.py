"""Properties over generated inputs: IoU, boxes under any action sequence, and config values of every key.

The config tables below say, independently of the envs' own rules, which values each key should take and which it
should refuse; hypothesis draws from both.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import facebox  # noqa: F401  (registers the environments)
from facebox.config import ConfigError
from facebox.envs.actions import ContinuousActions, LocalizationActions
from facebox.envs.boxes import iou, legalize
from facebox.envs.tracking import TrackingActions

FAST = settings(max_examples=60, deadline=None)
SLOW = settings(max_examples=25, deadline=None)  # each example builds an env


# -- boxes --------------------------------------------------------------------------------------------------------
def boxes(min_side: float = 0.0) -> st.SearchStrategy[np.ndarray]:
    coordinate, side = st.floats(-500, 500), st.floats(min_side, 500)
    return st.tuples(coordinate, coordinate, side, side).map(lambda b: np.array([b[0], b[1], b[0] + b[2], b[1] + b[3]]))


@FAST
@given(st.lists(boxes(), min_size=1, max_size=4), st.lists(boxes(), min_size=1, max_size=4))
def test_iou_is_symmetric_and_in_0_1(a, b):
    forward, backward = iou(np.array(a), np.array(b)), iou(np.array(b), np.array(a))
    assert forward.shape == (len(a), len(b))
    np.testing.assert_array_equal(forward, backward.T)
    assert ((forward >= 0) & (forward <= 1)).all()


@FAST
@given(boxes(min_side=0.01))
def test_iou_of_a_box_with_itself_is_1(box):
    assert iou(box, box)[0, 0] == pytest.approx(1.0)


images = st.tuples(st.floats(16, 400), st.floats(16, 400), st.floats(1, 64))  # width, height, min_size


def assert_legal(box: np.ndarray, bounds: tuple[float, float, float]) -> None:
    width, height, min_size = bounds
    eps = 1e-9 * max(width, height)
    (x1, y1, x2, y2), limit = box, np.array([width, height])
    assert -eps <= x1 < x2 <= width + eps and -eps <= y1 < y2 <= height + eps, (box, bounds)
    assert ((box[2:] - box[:2]) >= np.minimum(min_size, limit) - eps).all(), (box, bounds)


@FAST
@given(st.lists(boxes(), min_size=1, max_size=4).map(np.array), images)
def test_legalize_puts_any_box_inside_the_image_and_at_least_min_size(raw, bounds):
    for box in legalize(raw, *bounds):
        assert_legal(box, bounds)


def action_sequences(action_type) -> st.SearchStrategy[list]:
    if isinstance(action_type, ContinuousActions):  # out-of-range values too: apply clips them
        return st.lists(st.lists(st.floats(-3, 3), min_size=5, max_size=5).map(np.array), max_size=30)
    return st.lists(st.sampled_from(action_type.moves + (action_type.terminal_action,)), max_size=30)


@FAST
@pytest.mark.parametrize("kind", [LocalizationActions, ContinuousActions, TrackingActions])
@given(data=st.data(), start=boxes(), bounds=images, alpha=st.floats(0.01, 1.0), min_step=st.floats(0, 5))
def test_boxes_stay_inside_the_image_and_at_least_min_size_under_any_actions(
    kind, data, start, bounds, alpha, min_step
):
    action_type = kind({"alpha": alpha, "min_step": min_step})
    box = legalize(start, *bounds)
    for action in data.draw(action_sequences(action_type)):
        box, _ = action_type.apply(box, action, bounds)
        assert_legal(box, bounds)
        for candidate in action_type.candidate_boxes(box, bounds):  # the moves positive_actions and the oracle see
            assert_legal(candidate, bounds)


# -- config values ------------------------------------------------------------------------------------------------
NOT_A_NUMBER = st.one_of(
    st.booleans(), st.none(), st.text(max_size=4), st.lists(st.integers(), max_size=2), st.just(math.nan)
)
NOT_A_NAME = st.one_of(st.booleans(), st.none(), st.integers(), st.floats(), st.lists(st.text(max_size=2), max_size=2))
Values = tuple[st.SearchStrategy, st.SearchStrategy]  # (valid, invalid)


def names(*valid: str) -> Values:
    return st.sampled_from(valid), st.one_of(NOT_A_NAME, st.text(max_size=8).filter(lambda t: t not in valid))


def integers(low: int, cap: int) -> Values:
    """Valid: ``low..cap`` (any integer >= low is, but larger ones take long to step); invalid: below ``low``, a
    float (a whole one too) or no number at all."""
    return st.integers(low, cap), st.one_of(st.integers(max_value=low - 1), st.floats(low, cap), NOT_A_NUMBER)


def reals(low: float, high: float | None = None, *, open_low=False, open_high=False, cap: float = 100.0) -> Values:
    """Valid: floats and ints between ``low`` and ``high`` (``cap`` if unbounded); invalid: outside, infinite or
    no number at all."""
    top = cap if high is None else high
    first = math.ceil(low) + (1 if open_low and low == math.ceil(low) else 0)
    last = math.floor(top) - (1 if open_high and top == math.floor(top) else 0)
    valid = st.floats(low, top, exclude_min=open_low, exclude_max=open_high and high is not None)
    outside = [st.floats(max_value=low, exclude_max=not open_low)]
    if high is not None:
        outside.append(st.floats(min_value=high, exclude_min=not open_high))
    invalid = st.one_of(*outside, st.sampled_from([math.inf, -math.inf]), NOT_A_NUMBER)
    return (st.one_of(valid, st.integers(first, last)) if first <= last else valid), invalid


IMAGES, VIDEOS = "synthetic?size=64", "synthetic?size=64&frames=8"
NOT_A_DATASET = (st.one_of(st.none(), st.integers(), st.lists(st.text(max_size=2), max_size=1)),)
# (key path) -> (valid values, invalid values), for every registered env; valid values are kept small enough to step.
COMMON = {
    ("min_size",): reals(1, cap=64),
    ("observation", "size"): integers(1, 48),
    ("observation", "history"): integers(1, 12),
    ("observation", "context"): reals(0, cap=2),
    ("action", "alpha"): reals(0, 1, open_low=True),
    ("action", "min_step"): reals(0, cap=5),
    ("observation", "scene"): integers(0, 32),
}


def zooms() -> Values:
    """Valid: ``[lo, hi]`` with ``0 < lo <= hi``; invalid: reversed, non-positive, the wrong length or no list."""
    valid = st.tuples(st.floats(0.2, 3), st.floats(0.2, 3)).map(lambda p: sorted(p))
    invalid = st.one_of(
        st.tuples(st.floats(0.2, 1), st.floats(1.5, 3)).map(lambda p: [p[1], p[0]]),
        st.just([0, 1]),
        st.just([1.0]),
        NOT_A_NAME.filter(lambda v: not isinstance(v, list) or len(v) != 2),
    )
    return valid, invalid


LOCALIZATION = {
    **COMMON,
    **{("augment", key): reals(0, 1) for key in ("flip", "brightness", "contrast", "saturation", "grey", "blur")},
    ("augment", "zoom"): zooms(),
    ("image_cache",): reals(0, cap=64),
    ("dataset",): (st.just(IMAGES), *NOT_A_DATASET),
    ("target",): names("largest", "random", "any"),
    ("start",): names("image", "random"),
    ("eta",): reals(0),
    ("tau",): reals(0, 1, open_low=True),
}
KEYS = {
    "facebox/FaceLocalization-v0": LOCALIZATION,
    "facebox/FaceLocalizationContinuous-v0": {
        **LOCALIZATION,
        ("action", "trigger_threshold"): reals(-1, 1, open_high=True),
    },
    "facebox/FaceTracking-v0": {
        **COMMON,
        ("dataset",): (st.just(VIDEOS), *NOT_A_DATASET),
        ("mode",): names("train", "eval"),
        ("reward",): names("adnet", "dense"),
        ("clip_length",): integers(1, 8),
        ("max_actions",): integers(1, 8),
        ("iou_threshold",): reals(0, 1, open_high=True),
        ("frame_reward",): reals(0),
        ("jitter",): reals(0, 1, open_high=True),
    },
}
ENV_IDS = sorted(KEYS)
# What a drawn valid config starts from: small data and glimpses, for speed.
BASE = {
    env_id: {("dataset",): VIDEOS if "Tracking" in env_id else IMAGES, ("observation", "size"): 16}
    for env_id in ENV_IDS
}


def nested(values: dict[tuple[str, ...], object]) -> dict:
    config: dict = {}
    for path, value in values.items():
        node = config
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return config


def config_paths(config: dict, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    return {
        path
        for key, value in config.items()
        for path in (config_paths(value, (*prefix, key)) if isinstance(value, dict) else [(*prefix, key)])
        if key != "type"
    }


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_the_tables_cover_every_config_key_of_every_registered_env(env_id):
    assert set(ENV_IDS) == {env_id for env_id in gym.registry if env_id.startswith("facebox/")}
    assert config_paths(gym.make(env_id).unwrapped.config) == set(KEYS[env_id])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_observation_and_action_type_declares_a_rule_for_each_key(env_id):
    env = gym.make(env_id).unwrapped
    assert set(env.config_rules) | {"observation", "action"} == set(env.default_config())
    for registry in (env.observation_types, env.action_types):
        for cls in registry.values():
            assert set(cls.rules) == set(cls.defaults), cls


# Every observation and action type, the non-default ones too, by the key names of the tables above.
SECTION_KEYS = {path[-1]: values for table in KEYS.values() for path, values in table.items() if len(path) == 2}
TYPES = [
    (section, name, cls)
    for section, attribute in (("observation", "observation_types"), ("action", "action_types"))
    for env_id in ENV_IDS
    for name, cls in getattr(gym.make(env_id).unwrapped, attribute).items()
]


@FAST
@given(data=st.data(), typed=st.sampled_from(TYPES))
def test_every_observation_and_action_type_checks_every_key(data, typed):
    section, name, cls = typed
    key = data.draw(st.sampled_from(sorted(cls.defaults)), label="key")
    valid, invalid = SECTION_KEYS[key]
    assert cls({"type": name, key: data.draw(valid, label="valid")}, f"config[{section!r}]").config.keys() == (
        cls.defaults.keys()
    )
    value = data.draw(invalid, label="invalid")
    with pytest.raises(ConfigError, match=f"^config\\[{section!r}\\]\\[{key!r}\\]: expected "):
        cls({"type": name, key: value}, f"config[{section!r}]")


@SLOW
@given(data=st.data(), env_id=st.sampled_from(ENV_IDS))
def test_a_wrong_value_is_a_config_error_naming_the_key_the_expected_and_the_value(data, env_id):
    path = data.draw(st.sampled_from(sorted(KEYS[env_id])), label="key")
    value = data.draw(KEYS[env_id][path][1], label="value")
    with pytest.raises(ConfigError) as err:
        gym.make(env_id, config=nested({path: value}))
    where = "config" + "".join(f"[{part!r}]" for part in path)
    assert str(err.value).startswith(f"{where}: expected ") and str(err.value).endswith(f", got {value!r}")


@SLOW
@given(data=st.data(), env_id=st.sampled_from(ENV_IDS))
def test_valid_values_build_an_env_that_resets_and_steps(data, env_id):
    keys = KEYS[env_id]
    values = data.draw(st.fixed_dictionaries({}, optional={path: valid for path, (valid, _) in keys.items()}))
    env = gym.make(env_id, config=nested({**BASE[env_id], **values}))
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    env.action_space.seed(0)
    for _ in range(3):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs) and np.isfinite(reward)
        if terminated or truncated:
            break
