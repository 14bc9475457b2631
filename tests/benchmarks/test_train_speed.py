"""The training-speed benchmark builds the default agents from the YAML files and times them."""

from __future__ import annotations

import pytest

pytest.importorskip("stable_baselines3")

from facebox.benchmarks import train_speed  # noqa: E402


def test_reports_fps_of_the_yaml_agent_with_a_swapped_encoder():
    rows = train_speed.main(["--algo", "dqn", "--encoder", "vit", "--steps", "1", "--warmup", "1"])
    assert [(r["algo"], r["encoder"]) for r in rows] == [("dqn", "vit")]
    assert all(r["train_fps"] > 0 and r["env_steps_per_s"] > 0 for r in rows)  # a batched env may beat one env


@pytest.mark.parametrize("flag", ["--frozen", "--no-frozen"])
def test_times_rl_with_the_encoder_frozen_when_asked(monkeypatch, flag):
    frozen_policies = []
    monkeypatch.setattr(train_speed, "freeze_encoders", frozen_policies.append)
    rows = train_speed.main(["--algo", "dqn", "--encoder", "cnn", "--steps", "1", "--warmup", "1", flag])
    assert rows[0]["frozen"] is (flag == "--frozen")
    assert len(frozen_policies) == (flag == "--frozen")


def test_times_each_vec_env_kind_it_is_given(monkeypatch):
    made = []

    def recording(*args, **kwargs):
        venv = real(*args, **kwargs)
        made.append(type(venv).__name__)
        return venv

    real = train_speed.make_venv
    monkeypatch.setattr(train_speed, "make_venv", recording)
    argv = ["--algo", "dqn", "--encoder", "cnn", "--steps", "1", "--warmup", "1", "--vec-env", "batched", "subprocess"]
    rows = train_speed.main(argv)
    assert [r["vec_env"] for r in rows] == ["batched", "subprocess"]
    assert made[0] == "BatchedVecEnv" and made[1] != "BatchedVecEnv"
