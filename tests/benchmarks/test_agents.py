"""The agents benchmark trains each algorithm/encoder pair and tabulates it beside the oracle and random."""

from __future__ import annotations

import csv

import pytest

pytest.importorskip("stable_baselines3")

from facebox.benchmarks import agents  # noqa: E402


def test_one_table_for_every_pair_and_the_reference_policies(tmp_path):
    tiny = ["n_timesteps=64", "n_envs=1", "n_steps=32", "batch_size=32", "n_epochs=1", "callback=[]"]
    tiny += ["env_kwargs.config.observation.size=32"]
    rows = agents.main(
        ["--algo", "ppo", "--encoder", "dwsep", "vit", "--hyperparams", *tiny, "--episodes", "3"]
        + ["--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out")]
    )
    assert [r["policy"] for r in rows] == ["ppo dwsep", "ppo vit", "oracle", "random"]
    assert rows[2]["success@0.5"] == 1.0 and rows[0]["rl_steps"] == 64
    with open(tmp_path / "out" / "results.csv") as f:
        assert [r["policy"] for r in csv.DictReader(f)] == [r["policy"] for r in rows]
    assert len(list((tmp_path / "runs").iterdir())) == 2
