"""The public ground truth of ``BoxEnv`` (``target``, ``ending_is_right``) and the reference policies built on it."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest

import facebox  # noqa: F401  (registers the environments)
from facebox.envs.boxes import iou
from facebox.envs.localization import FaceLocalizationEnv
from facebox.envs.policies import POLICIES, GreedyOracle, RandomPolicy
from facebox.envs.tracking import FaceTrackingEnv

ENVS = {"localization": FaceLocalizationEnv, "tracking": FaceTrackingEnv}


def seeded_states(env, seeds=range(4), steps=15):
    """The env at every step of seeded episodes that follow the oracle's moves but, instead of ending, take a
    random move: states before and after the box reaches the face, so ending is right in some and wrong in others.
    """
    oracle, rng = GreedyOracle(), np.random.default_rng(0)
    moves = env.action_type.moves
    for seed in seeds:
        env.reset(seed=seed)
        for _ in range(steps):
            yield env
            action = oracle.discrete_action(env)
            if action == env.action_type.terminal_action:
                action = moves[int(rng.integers(len(moves)))]
            env.step(action)


@pytest.mark.parametrize("name", sorted(ENVS))
def test_ground_truth_properties_are_read_only(name):
    env = ENVS[name]()
    env.reset(seed=0)
    with pytest.raises(AttributeError):
        env.target = np.zeros(4)
    with pytest.raises(AttributeError):
        env.ending_is_right = True


@pytest.mark.parametrize("name", sorted(ENVS))
def test_target_is_a_float64_copy_of_the_scored_face(name):
    env = ENVS[name]()
    _, info = env.reset(seed=0)
    target = env.target
    assert target.dtype == np.float64 and target.shape == (4,)
    np.testing.assert_array_equal(target.astype(np.float32), info["target"])
    target[:] = -1  # a copy: the env's ground truth is untouched
    assert not np.array_equal(env.target, target)
    env.step(env.action_type.moves[0])
    np.testing.assert_array_equal(env.target.astype(np.float32), env._info({})["target"])


def test_target_follows_the_best_matching_face(boxes_on_noise):
    faces = [[10.0, 10.0, 40.0, 40.0], [100.0, 100.0, 180.0, 180.0]]
    env = FaceLocalizationEnv(config={"dataset": boxes_on_noise([faces]), "target": "any"})
    env.reset(seed=0)
    for face in faces:
        env.box = np.array(face) + 2.0
        env._update_iou()
        np.testing.assert_array_equal(env.target, face)


def test_ending_is_right_exactly_when_the_trigger_is_rewarded():
    env = FaceLocalizationEnv(config={"start": "random"})
    seen = set()
    for state in seeded_states(env):
        expected = state.ending_is_right
        assert isinstance(expected, bool)
        assert state.positive_actions()[state.action_type.terminal_action] == expected
        _, reward, terminated, _, info = copy.deepcopy(state).step(state.action_type.terminal_action)
        assert terminated and info["rewards"]["trigger"] == reward
        assert (reward > 0) == expected
        seen.add(expected)
    assert seen == {True, False}  # the seeded states cover both answers


def test_ending_is_right_in_tracking_means_stopping_is_rewarded_and_no_move_helps():
    env = FaceTrackingEnv(config={"jitter": 0.3, "max_actions": 50})
    seen = set()
    for state in seeded_states(env):
        expected = state.ending_is_right
        assert state.positive_actions()[state.action_type.terminal_action] == expected
        _, reward, _, _, info = copy.deepcopy(state).step(state.action_type.terminal_action)
        rewarded = info["rewards"]["frame"] > 0
        no_move_helps = bool(state.candidate_ious.max() <= state.iou + 1e-9)
        assert expected == (rewarded and no_move_helps)
        seen.add(expected)
    assert seen == {True, False}


def run_oracle(env: gym.Env, seed: int) -> tuple[list, bool, dict]:
    oracle = GreedyOracle()
    obs, info = env.reset(seed=seed)
    actions, terminated, truncated = [], False, False
    while not (terminated or truncated):
        action = oracle(env, obs)
        actions.append(np.asarray(action).tolist())
        obs, _, terminated, truncated, info = env.step(action)
    return actions, terminated, info


@pytest.mark.parametrize("env_id", ["facebox/FaceLocalization-v0", "facebox/FaceLocalizationContinuous-v0"])
def test_oracle_triggers_on_the_face(env_id):
    env = gym.make(env_id, config={"tau": 0.7})
    at = env.unwrapped.action_type
    trigger = np.asarray(at.move_action(at.terminal_action) if hasattr(at, "move_action") else at.terminal_action)
    for seed in range(20):
        actions, terminated, info = run_oracle(env, seed)
        assert terminated and info["iou"] >= 0.7 and actions[-1] == trigger.tolist(), (seed, actions)


def test_oracle_tracks_above_the_threshold_and_stops():
    env = gym.make("facebox/FaceTracking-v0")
    for seed in range(5):
        actions, terminated, _ = run_oracle(env, seed)
        base, track = env.unwrapped, env.unwrapped.track
        gt = base.gt[base.frame - len(track) + 1 : base.frame + 1]  # the clip's frames s .. last
        ious = [float(iou(box, face)[0, 0]) for box, face in zip(track[1:], gt[1:], strict=True)]
        assert terminated and min(ious) > 0.7, (seed, ious)
        assert actions.count(8) >= len(ious) // 2  # it stops on frames instead of using up every action


def test_oracle_is_deterministic():
    a, b = gym.make("facebox/FaceLocalization-v0"), gym.make("facebox/FaceLocalization-v0")
    for seed in range(5):
        assert run_oracle(a, seed)[0] == run_oracle(b, seed)[0]


def test_policies_table_builds_seeded_policies():
    env = gym.make("facebox/FaceLocalization-v0")
    env.reset(seed=0)
    assert isinstance(POLICIES["oracle"](0), GreedyOracle)
    x, y = POLICIES["random"](3), POLICIES["random"](3)
    assert isinstance(x, RandomPolicy)
    assert [x(env) for _ in range(10)] == [y(env) for _ in range(10)]
