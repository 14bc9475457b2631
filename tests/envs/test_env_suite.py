"""Every registered facebox environment gets these checks by being registered (as in Gymnasium's suite)."""

from __future__ import annotations

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence

import facebox  # noqa: F401  (registers the environments)

ENV_IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("facebox/"))


def test_suite_discovers_envs():
    expected = {"facebox/FaceLocalization-v0", "facebox/FaceLocalizationContinuous-v0", "facebox/FaceTracking-v0"}
    assert expected <= set(ENV_IDS)


def _rollout(env: gym.Env, seed: int, steps: int = 60) -> list:
    """Observations, rewards, flags and infos of a seeded random rollout, resetting on episode end.

    Traces are compared with Gymnasium's ``data_equivalence(..., exact=True)``, for which NaN differs from NaN: the
    registered envs' synthetic data annotate every frame, so no NaN (absent-target) IoU appears here.
    """
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    trace = [(obs, info)]
    for _ in range(steps):
        out = env.step(env.action_space.sample())
        trace.append(out)
        if out[2] or out[3]:
            trace.append(env.reset())
    return trace


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_check_env(env_id):
    from gymnasium.utils.env_checker import check_env

    env = gym.make(env_id, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sb3_check_env(env_id):
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_checker.check_env(gym.make(env_id).unwrapped, warn=True)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_is_bit_identical(env_id):
    a, b = _rollout(gym.make(env_id), seed=7), _rollout(gym.make(env_id), seed=7)
    assert data_equivalence(a, b, exact=True)
    c = _rollout(gym.make(env_id), seed=8)
    assert not np.array_equal(a[0][0][next(iter(a[0][0]))], c[0][0][next(iter(c[0][0]))])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pickle_round_trip_continues_identically(env_id):
    env = gym.make(env_id)
    _rollout(env, seed=3, steps=5)
    clone = pickle.loads(pickle.dumps(env))
    env.action_space.seed(11)
    for action in [env.action_space.sample() for _ in range(20)]:
        out, out_clone = env.step(action), clone.step(action)
        assert data_equivalence(out, out_clone, exact=True)
        if out[2] or out[3]:
            assert data_equivalence(env.reset(seed=1), clone.reset(seed=1), exact=True)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_rgb_array_render(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert min(frame.shape[:2]) >= 64
    # the current box is drawn in red somewhere
    assert ((frame[..., 0] == 255) & (frame[..., 1] == 40)).any()
