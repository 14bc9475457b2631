"""Every registered facebox environment gets these checks by being registered (as in Gymnasium's suite)."""

from __future__ import annotations

import functools
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence

import facebox  # noqa: F401  (registers the environments)

ENV_IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("facebox/"))
# Small images, glimpses and clips, so that a vector env sees several episode ends within a few seconds.
SMALL = {"observation": {"size": 16}, "min_size": 4}
SMALL_DATA = {"FaceTracking": {"dataset": "synthetic?size=64&frames=8", "clip_length": 2, "max_actions": 3}}


def small_config(env_id: str) -> dict:
    extra = next((config for name, config in SMALL_DATA.items() if name in env_id), {"dataset": "synthetic?size=64"})
    return {**SMALL, **extra}


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


def _structure(info: dict) -> dict:
    """Every key of ``info`` with its value's type, dtype and shape, nested dicts included."""
    return {
        key: _structure(value) if isinstance(value, dict) else (type(value), np.asarray(value).dtype, np.shape(value))
        for key, value in info.items()
    }


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_info_has_one_structure_at_reset_every_step_and_the_episode_end(env_id):
    """Vector envs stack infos key by key across sub-envs, one of which may just have been reset."""
    env = gym.make(env_id, config=small_config(env_id))
    env.action_space.seed(0)
    _, info = env.reset(seed=0)
    expected, ends = _structure(info), 0
    for _ in range(200):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        assert _structure(info) == expected
        if terminated or truncated:
            ends += 1
            assert _structure(env.reset()[1]) == expected
    assert ends >= 3


def _paths(info: dict) -> set[tuple[str, ...]]:
    """The keys of ``info``, nested ones as paths."""
    return {
        path
        for key, value in info.items()
        for path in (((key, *p) for p in _paths(value)) if isinstance(value, dict) else [(key,)])
    }


def _all_present(info: dict) -> bool:
    """Whether every ``_key`` mask of a vector env's info (nested ones included) is set for every sub-env."""
    return all(
        _all_present(value) if isinstance(value, dict) else not key.startswith("_") or bool(np.all(value))
        for key, value in info.items()
    )


def _run_until_every_env_restarted(step, num_envs: int, max_steps: int = 300) -> int:
    """Step until every sub-env has ended an episode and stepped on after its autoreset; the number of steps."""
    ended, restarted = np.zeros(num_envs, bool), np.zeros(num_envs, bool)
    for n in range(1, max_steps + 1):
        done = step()
        restarted |= ended
        ended |= done
        if restarted.all():
            return n
    raise AssertionError(f"not every sub-env ended an episode and restarted within {max_steps} steps")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_vector_env_steps_through_autoresets_and_closes(env_id, mode):
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode=mode, config=small_config(env_id))
    try:
        envs.action_space.seed(0)
        _, info = envs.reset(seed=0)
        paths = _paths(info)
        assert ("rewards", "move") in paths and _all_present(info)

        def step():
            obs, _, terminated, truncated, info = envs.step(envs.action_space.sample())
            assert envs.observation_space.contains(obs) and _paths(info) == paths and _all_present(info)
            return terminated | truncated

        _run_until_every_env_restarted(step, 2)
    finally:
        envs.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sb3_subproc_vec_env_steps_through_autoresets_and_closes(env_id):
    """SB3's default start method (forkserver) starts fresh interpreters: the ``facebox:`` prefix imports facebox
    there, which registers the envs."""
    vec_env = pytest.importorskip("stable_baselines3.common.vec_env")
    make = functools.partial(gym.make, f"facebox:{env_id}", config=small_config(env_id))
    envs = vec_env.SubprocVecEnv([make, make])
    try:
        envs.seed(0)
        envs.action_space.seed(0)
        envs.reset()

        def step():
            obs, _, dones, infos = envs.step(np.stack([envs.action_space.sample() for _ in range(2)]))
            assert len(infos) == 2  # SB3 keeps one info dict per sub-env: nothing to stack
            assert all(envs.observation_space.contains({k: v[i] for k, v in obs.items()}) for i in range(2))
            return dones

        _run_until_every_env_restarted(step, 2)
    finally:
        envs.close()
