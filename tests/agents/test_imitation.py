"""Imitation of the oracle: demonstrations, the ring buffer, mirroring, the loss, behaviour cloning."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

from tiny_agents import ENV_ID, TINY_ENCODER, TINY_ENV, tiny_ppo  # noqa: E402

from facebox.agents.imitation import Demonstrations, behaviour_cloning, collect_demonstrations, imitation_loss  # noqa: E402
from facebox.agents.models import make_venv  # noqa: E402
from facebox.agents.policies import DQNEncoderPolicy, PPOEncoderPolicy  # noqa: E402


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"rounds": 0}, "rounds >= 1"),
        ({"capacity": -5}, "capacity >= 1"),
    ],
)
def test_behaviour_cloning_names_bad_options(options, match):
    model = tiny_ppo(make_venv(ENV_ID, 1, 0, TINY_ENV))
    with pytest.raises(ValueError, match=match):
        behaviour_cloning(model, lambda: gym.make(ENV_ID, config=TINY_ENV["config"]), 100, **options)


def test_behaviour_cloning_raises_oracle_agreement_above_chance():
    from stable_baselines3 import PPO

    venv = make_venv(ENV_ID, 1, 0, TINY_ENV)
    model = PPO(PPOEncoderPolicy, venv, policy_kwargs=TINY_ENCODER, seed=0)
    make_env = lambda: gym.make(ENV_ID, config=TINY_ENV["config"])  # noqa: E731
    stats = behaviour_cloning(model, make_env, 2000, rounds=1, epochs=10, learning_rate=3e-3, seed=0).stats
    chance = 1 / 9
    assert stats["agreement_before"] < chance + 0.1
    assert stats["agreement_after"] > chance + 0.2
    assert stats["agreement_after"] > stats["majority"]  # more than always answering the oracle's favourite


def test_demonstrations_carry_the_discounted_returns_of_whole_episodes():
    env = gym.make(ENV_ID, config=TINY_ENV["config"])
    data = collect_demonstrations(None, [env], 30, learner_drives=False, seed=0, gamma=0.9)
    assert len(data) == 30 and np.array_equal(data.labels, data.actions)  # the oracle drove
    # An episode's states are stored last-first: each return is its step's reward plus 0.9 x the next return.
    ends = np.flatnonzero(data.labels == 8)  # the oracle always ends by triggering on the face: reward +3
    assert len(ends) >= 2 and np.allclose(data.returns[ends], 3.0)
    first = slice(ends[0], ends[1])
    rewards = data.returns[first][1:] - 0.9 * data.returns[first][:-1]
    assert np.allclose(rewards, np.round(rewards)) and set(np.round(rewards)) <= {-1.0, 0.0, 1.0}
    assert 1 in np.round(rewards)  # the oracle's moves raise the IoU


def test_a_shorter_collection_is_the_start_of_a_longer_one():
    # Episodes are written in the order they end, each last state first, so cutting at `steps` (mid-episode,
    # possibly with several envs ending on the same step) keeps exactly the first `steps` rows.
    def collect(steps):
        envs = [gym.make(ENV_ID, config=TINY_ENV["config"]) for _ in range(3)]
        return collect_demonstrations(None, envs, steps, learner_drives=False, seed=5, gamma=0.9)

    short, long = collect(97), collect(300)
    assert len(short) == 97 and len(long) == 300
    (obs, *arrays), (long_obs, *long_arrays) = short.batch(np.arange(97)), long.batch(np.arange(97))
    assert all(np.array_equal(obs[k], long_obs[k]) for k in ("glimpse", "history"))
    assert all(np.array_equal(a, b) for a, b in zip(arrays, long_arrays, strict=True))


def test_imitation_buffer_keeps_the_newest_states_up_to_its_capacity():
    from facebox.agents.imitation import Imitation

    policy = tiny_ppo(make_venv(ENV_ID, 1, 0, TINY_ENV)).policy
    data = collect_demonstrations(None, [gym.make(ENV_ID, config=TINY_ENV["config"])], 25, False, seed=0, gamma=0.9)
    imitation = Imitation(policy, capacity=10)
    first, second = (Demonstrations(*data.batch(np.arange(a, b))) for a, b in ((0, 7), (7, 25)))
    imitation.add(first)
    assert len(imitation) == 7 and np.array_equal(imitation.data.labels[:7], data.labels[:7])
    imitation.add(second)  # 18 more than the 3 free rows: only states 15..24 stay, in ring order
    assert len(imitation) == 10 and imitation.added == 25
    ring = (np.arange(15, 25) % 10).argsort()  # state 15 + j sits in row (15 + j) % 10
    kept = np.arange(15, 25)[ring]
    assert np.array_equal(imitation.data.labels, data.labels[kept])
    assert np.array_equal(imitation.data.observations["glimpse"], data.observations["glimpse"][kept])
    assert np.array_equal(imitation.data.returns, data.returns[kept])
    assert np.isfinite(imitation.fit(1))


def test_mirror_turns_a_state_into_the_same_state_of_the_mirrored_image():
    from facebox.agents.imitation import Mirror, box_geometry
    from facebox.envs.policies import GreedyOracle

    env, twin = (gym.make(ENV_ID, config=TINY_ENV["config"]) for _ in range(2))
    mirror = Mirror.of(env)
    env.reset(seed=3)
    twin.reset(seed=3)
    for action in (0, 0, 3, 5, 1):
        env.step(action)
    a, b = env.unwrapped, twin.unwrapped
    a.box = np.array([30.5, 20.25, 81.0, 70.0])  # under 2 glimpses wide: cropped from the full image, exactly
    a._update_iou()
    obs = a.observation_type.observe(a)
    width = a.image.shape[1]
    b._set_image(np.ascontiguousarray(a.image[:, ::-1]))
    b.box = a.box[[2, 1, 0, 3]] * [-1, 1, -1, 1] + [width, 0, width, 0]
    b.history = a.history[:, mirror.actions]
    b._set_targets(a.targets[:, [2, 1, 0, 3]] * [-1, 1, -1, 1] + [width, 0, width, 0])
    expected = b.observation_type.observe(b)
    label = GreedyOracle().discrete_action(env)
    batch = ({k: np.stack([v, v]) for k, v in obs.items()}, np.array([label] * 2), np.array([1, 1]), np.zeros(2))
    batch = (*batch, np.stack([box_geometry(env)] * 2))
    copies = [np.copy(x) for x in batch[1:]]
    out_obs, labels, actions, returns, geometry = mirror(*batch, rows=np.array([True, False]))
    # equal up to OpenCV's fixed-point interpolation (a one-pixel shift differs by ~10 on average here)
    assert np.abs(out_obs["glimpse"][0].astype(int) - expected["glimpse"]).mean() < 0.5
    assert np.array_equal(out_obs["history"][0], expected["history"])
    assert labels[0] == GreedyOracle().discrete_action(twin) and actions[0] == 0  # left -> right
    np.testing.assert_allclose(geometry[0], box_geometry(twin), atol=1e-6)
    mirrored_moves = [a.action_type.moves.index(mirror.actions[i]) for i in a.action_type.moves]
    np.testing.assert_allclose(b.candidate_ious[mirrored_moves], a.candidate_ious)
    assert np.array_equal(out_obs["glimpse"][1], obs["glimpse"]) and labels[1] == label  # rows not chosen stay
    assert all(np.array_equal(x, y) for x, y in zip(copies, batch[1:], strict=True))  # the input is not changed
    assert np.array_equal(batch[0]["glimpse"][0], obs["glimpse"])
    with pytest.raises(ValueError, match="cannot mirror observation key 'history'"):  # not one-hot
        Mirror.of(gym.make(ENV_ID, config={"action": {"type": "continuous"}}))


def test_imitation_loss_skips_the_geometry_of_faces_out_of_view():
    from torch import nn

    from facebox.agents.imitation import GEOMETRY_SIZE, imitation_loss

    venv = make_venv(ENV_ID, 1, 0, TINY_ENV)
    policy = tiny_ppo(venv).policy
    data = collect_demonstrations(None, [gym.make(ENV_ID, config=TINY_ENV["config"])], 8, False, seed=0, gamma=0.9)
    data.geometry[:4] = np.nan
    head = nn.Linear(policy.features_extractor.features_dim, GEOMETRY_SIZE)
    tensors = [torch.as_tensor(x) for x in (data.labels, data.actions, data.returns, data.geometry)]
    loss = imitation_loss(policy, policy.obs_to_tensor(data.observations)[0], *tensors, head)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(head.weight.grad).all() and head.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_behaviour_cloning_calibrates_the_values_rl_starts_from(algo):
    from stable_baselines3 import DQN, PPO

    venv = make_venv(ENV_ID, 1, 0, TINY_ENV)
    if algo == "ppo":
        model = PPO(PPOEncoderPolicy, venv, policy_kwargs=TINY_ENCODER, seed=0, gamma=0.9)
    else:
        model = DQN(DQNEncoderPolicy, venv, policy_kwargs=TINY_ENCODER, seed=0, gamma=0.9, buffer_size=100)
    data = collect_demonstrations(None, [gym.make(ENV_ID, config=TINY_ENV["config"])], 500, False, seed=9, gamma=0.9)
    tensors = (torch.as_tensor(x) for x in (data.labels, data.actions, data.returns, data.geometry))
    held_out_batch = (model.policy.obs_to_tensor(data.observations)[0], *tensors)
    with torch.no_grad():
        before = imitation_loss(model.policy, *held_out_batch).item()
    make_env = lambda: gym.make(ENV_ID, config=TINY_ENV["config"])  # noqa: E731
    behaviour_cloning(model, make_env, 2000, rounds=1, epochs=10, learning_rate=3e-3, seed=0)
    with torch.no_grad():
        after = imitation_loss(model.policy, *held_out_batch).item()
    assert after < 0.7 * before
    if algo == "dqn":  # the target network starts equal to the cloned one
        for a, b in zip(model.policy.q_net.parameters(), model.policy.q_net_target.parameters(), strict=True):
            assert torch.equal(a, b)
