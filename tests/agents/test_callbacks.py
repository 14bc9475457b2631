"""The warm-start callback: thread counts, the imitation anchor, freezing (evaluation, checkpoints: test_train.py)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("stable_baselines3")

from tiny_agents import ENV_ID, TINY_ENCODER, TINY_ENV, tiny_ppo  # noqa: E402

from facebox.agents.callbacks import BehaviourCloning  # noqa: E402
from facebox.agents.models import make_venv  # noqa: E402
from facebox.agents.policies import DQNEncoderPolicy  # noqa: E402


def test_behaviour_cloning_callback_names_bad_thread_counts():

    with pytest.raises(ValueError, match="torch_threads >= 1, got 0"):
        BehaviourCloning(steps=100, torch_threads=0)


def test_anchor_keeps_imitating_between_ppo_updates_and_is_refused_for_dqn(tmp_path, monkeypatch):
    from stable_baselines3 import DQN

    from facebox.agents import callbacks

    venv = make_venv(ENV_ID, 1, 0, TINY_ENV)
    model = tiny_ppo(venv)
    bc = BehaviourCloning(
        steps=300,
        rounds=1,
        epochs=1,
        anchor=1.0,
        anchor_batches=2,
        anchor_decay=0.5,
        torch_threads=2,
        mirror=True,
        verbose=0,
    )
    seen = []
    cloning = callbacks.behaviour_cloning
    monkeypatch.setattr(
        callbacks, "behaviour_cloning", lambda *a, **k: seen.append(torch.get_num_threads()) or cloning(*a, **k)
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model.learn(192, callback=bc)
        assert seen == [2] and torch.get_num_threads() == 1  # the warm start's threads are given back for RL
    finally:
        torch.set_num_threads(threads)
    assert list(bc.imitation.mirror.actions[:2]) == [1, 0]  # cloned on mirrored minibatches too
    assert bc._rollouts == 3  # 192 steps of 64-step rollouts
    assert bc.imitation.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.25)  # the third rollout's scale
    dqn = DQN(DQNEncoderPolicy, venv, policy_kwargs=TINY_ENCODER, buffer_size=100, seed=0)
    with pytest.raises(ValueError, match="on-policy"):
        dqn.learn(10, callback=BehaviourCloning(steps=10, anchor=1.0))


def test_freeze_keeps_the_warm_encoder_fixed_during_rl_also_after_a_resume():

    venv = make_venv(ENV_ID, 1, 0, TINY_ENV)
    model = tiny_ppo(venv)
    extractor, head = model.policy.features_extractor, model.policy.action_net
    model.learn(64, callback=BehaviourCloning(steps=100, rounds=1, epochs=1, freeze=True, verbose=0))
    assert not any(p.requires_grad for p in extractor.parameters())
    model.policy.requires_grad_(True)  # as after loading a saved model
    encoder = [p.clone() for p in extractor.parameters()]
    actor = [p.clone() for p in head.parameters()]
    model.learn(128, callback=BehaviourCloning(steps=100, freeze=True, verbose=0), reset_num_timesteps=False)
    assert all(torch.equal(a, b) for a, b in zip(encoder, extractor.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(actor, head.parameters(), strict=True))  # RL still learns
    venv.close()


def test_the_warm_start_and_rl_learn_the_same_on_the_batched_env_as_on_workers():
    weights = {}
    for kind in ("batched", "subprocess"):
        venv = make_venv(ENV_ID, 2, 0, TINY_ENV, kind=kind)
        model = tiny_ppo(venv)
        model.learn(128, callback=BehaviourCloning(steps=100, rounds=1, epochs=1, n_envs=2, verbose=0))
        weights[kind] = [p.detach().clone() for p in model.policy.parameters()]
        venv.close()
    assert all(torch.equal(a, b) for a, b in zip(weights["batched"], weights["subprocess"], strict=True))
