"""Guided exploration: exploratory actions among the positive ones, masks that follow the envs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from tiny_agents import ENV_ID, TINY_ENCODER, TINY_ENV  # noqa: E402

from facebox.agents.exploration import GuidedDQN, guided_action  # noqa: E402
from facebox.agents.models import make_venv  # noqa: E402
from facebox.agents.policies import DQNEncoderPolicy  # noqa: E402


def test_guided_action_draws_only_positive_actions():
    rng = np.random.default_rng(0)
    mask = np.zeros(9, bool)
    mask[[2, 5]] = True
    draws = {guided_action(mask, rng) for _ in range(200)}
    assert draws == {2, 5}
    assert {guided_action(np.zeros(9, bool), rng) for _ in range(200)} == set(range(9))


def test_guided_dqn_explores_only_among_positive_actions():

    venv = make_venv(ENV_ID, 1, 0, TINY_ENV)
    model = GuidedDQN(DQNEncoderPolicy, venv, policy_kwargs=TINY_ENCODER, buffer_size=100, seed=0, device="cpu")
    model._last_obs = venv.reset()
    masks = np.zeros((3, 9), bool)
    masks[0, 1] = masks[1, [3, 7]] = masks[2, 8] = True
    model._masks = masks
    model.exploration_rate = 1.0
    for _ in range(50):
        actions, buffer_actions = model._sample_action(learning_starts=0, n_envs=3)
        assert actions[0] == 1 and actions[1] in (3, 7) and actions[2] == 8
        np.testing.assert_array_equal(actions, buffer_actions)


def test_guided_dqn_masks_follow_the_envs_through_resets():
    """After every step the kept masks are those of the states the next actions act on, including the first
    state of a new episode (which SB3 reports in reset_infos, not in infos)."""

    venv = make_venv(ENV_ID, 1, 0, TINY_ENV)
    model = GuidedDQN(
        DQNEncoderPolicy, venv, policy_kwargs=TINY_ENCODER, buffer_size=300, learning_starts=300, seed=0, device="cpu"
    )
    envs = model.get_env().get_attr("unwrapped")  # DummyVecEnv: the live env objects
    seen = {"checked": 0, "episodes": 0}
    original = model._store_transition

    def store(*args):
        original(*args)
        dones = args[4]
        seen["episodes"] += int(dones.sum())
        expected = np.stack([env.unwrapped.positive_actions() for env in envs])
        np.testing.assert_array_equal(model._masks, expected)
        seen["checked"] += 1

    model._store_transition = store
    model.learn(250)
    assert seen["checked"] >= 250 and seen["episodes"] >= 2
