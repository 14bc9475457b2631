"""The batched localization env: Gymnasium's vector-env contract, and the transitions of N single envs, bit for bit."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.utils.passive_env_checker import check_obs, data_shares_objects
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers.vector import RecordEpisodeStatistics

from facebox.config import ConfigError
from facebox.envs.batched import BatchedLocalizationEnv

ENV_ID = "facebox/FaceLocalization-v0"
SMALL = {"dataset": "synthetic?size=64", "observation": {"size": 16, "history": 3}}
CONFIGS = {
    "glimpse": SMALL,
    # several faces of which any counts (targets padded per env), the scene channel, random starts, augmentation
    "any face": {
        **SMALL,
        "dataset": "synthetic?size=64&max_faces=4",
        "target": "any",
        "start": "random",
        "observation": {"size": 16, "scene": 12},
        "augment": {"flip": 0.5, "zoom": [0.8, 1.25], "brightness": 0.2},
    },
    "image mask": {**SMALL, "observation": {"type": "image_mask", "size": 16}},
    # images of different sizes in one batch: each env's box is kept inside its own image
    "mixed sizes": {**SMALL, "dataset": {"synthetic?size=64": 1, "synthetic?size=96&seed=3": 1}, "image_cache": 4},
}


def batched(n: int, config: dict, **kwargs) -> BatchedLocalizationEnv:
    return gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", config=config, **kwargs)


def _trace(envs: gym.vector.VectorEnv, steps: int, seed: int = 5) -> list:
    rng = np.random.default_rng(seed)
    trace = [envs.reset(seed=seed)]
    for _ in range(steps):  # random actions: a trigger every ~9 steps, so many autoresets
        trace.append(envs.step(rng.integers(0, 9, envs.num_envs)))
    return trace


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_transitions_are_those_of_sync_vector_env_of_single_envs(name, mode):
    config = CONFIGS[name]
    ours = batched(4, config, autoreset_mode=mode)
    sync = gym.make_vec(ENV_ID, 4, vectorization_mode="sync", config=config, vector_kwargs={"autoreset_mode": mode})
    mine, theirs = _trace(ours, 150), _trace(sync, 150)
    for t, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        assert data_equivalence(a, b, exact=True), f"step {t} differs"
    finals = sum(bool(step[4].get("_final_obs", np.zeros(1)).any()) for step in mine[1:])
    assert sum(step[2].sum() + step[3].sum() for step in mine[1:]) >= 8  # episodes ended, envs were reset
    assert finals > 0 if mode == AutoresetMode.SAME_STEP else finals == 0
    ours.close()
    sync.close()


def test_is_what_make_vec_gives_by_default_with_the_registered_time_limit():
    envs = gym.make_vec(ENV_ID, num_envs=3, config=SMALL)
    assert isinstance(envs.unwrapped, BatchedLocalizationEnv)
    assert envs.unwrapped.max_episode_steps == 40 and envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    short = batched(2, SMALL, max_episode_steps=3)
    short.reset(seed=0)
    truncated = [short.step(np.array([4, 4]))[3] for _ in range(3)]  # "bigger" never triggers
    assert [t.tolist() for t in truncated] == [[False, False], [False, False], [True, True]]


def test_observations_are_in_the_space_and_never_reused():
    envs = batched(3, CONFIGS["any face"])
    assert envs.action_space == gym.spaces.MultiDiscrete([9, 9, 9])
    assert envs.single_observation_space == gym.make(ENV_ID, config=CONFIGS["any face"]).observation_space
    obs, _ = envs.reset(seed=1)
    check_obs(obs, envs.observation_space, "reset")
    for _ in range(20):
        new = envs.step(envs.action_space.sample())[0]
        check_obs(new, envs.observation_space, "step")
        assert not data_shares_objects(obs, new)
        obs = new


def test_episode_statistics_wrapper_sees_every_episode():
    envs = RecordEpisodeStatistics(batched(2, SMALL))
    envs.reset(seed=2)
    lengths = []
    for _ in range(120):
        info = envs.step(np.random.default_rng(len(lengths)).integers(0, 9, 2))[4]
        lengths += info["episode"]["l"][info["_episode"]].tolist() if "episode" in info else []
    assert len(lengths) >= 4 and all(1 <= n <= 40 for n in lengths)


def test_render_draws_each_env():
    envs = batched(2, SMALL, render_mode="rgb_array")
    envs.reset(seed=0)
    envs.step(np.array([5, 8]))
    frames = envs.render()
    assert len(frames) == 2 and all(f.ndim == 3 and f.shape[2] == 3 and f.dtype == np.uint8 for f in frames)
    assert not np.array_equal(frames[0], frames[1])


@pytest.mark.parametrize(
    "actions, match",
    [([0, 9], "expected 2 integers in 0..8"), ([0.0, 1.0], "expected 2 integers"), ([1], "shape \\(2,\\)")],
)
def test_bad_actions_are_named(actions, match):
    envs = batched(2, SMALL)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=match):
        envs.step(np.array(actions))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"config": {**SMALL, "action": {"type": "continuous"}}}, "config\\['action'\\]\\['type'\\]"),
        ({"autoreset_mode": "Disabled"}, "autoreset_mode: expected"),
        ({"num_envs": 0}, "num_envs: expected"),
        ({"config": {**SMALL, "tau": 2}}, "tau"),
    ],
)
def test_bad_arguments_raise_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        BatchedLocalizationEnv(**{"num_envs": 2, "config": SMALL, **kwargs})


def test_seeds_as_a_list_must_match_the_envs():
    envs = batched(2, SMALL)
    a = envs.reset(seed=[3, 4])[0]["glimpse"]
    b = batched(2, SMALL).reset(seed=3)[0]["glimpse"]
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="a list of 2 seeds"):
        envs.reset(seed=[1, 2, 3])


def test_each_sub_env_has_the_single_env_spec_that_gym_make_rebuilds():
    envs = batched(3, SMALL, autoreset_mode=AutoresetMode.SAME_STEP)
    assert envs.spec.kwargs["num_envs"] == 3
    spec = envs.unwrapped.envs[1].spec
    assert spec.id == ENV_ID and spec.max_episode_steps == 40 and spec.kwargs == {"config": SMALL}
    single = gym.make(spec)
    assert (
        isinstance(single.unwrapped, type(envs.unwrapped.envs[0]))
        and single.unwrapped.config["observation"]["size"] == 16
    )
