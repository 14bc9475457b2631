"""``facebox real-tracking``: the clip mixture from the shared folder, each seed trained once on the tracking env,
and the OTB table over seeds beside the classic trackers."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest

pytest.importorskip("stable_baselines3")

from tiny_agents import tiny_train  # noqa: E402

from facebox.benchmarks import real_faces, real_tracking  # noqa: E402


def test_the_tracking_mixture_fills_in_the_folder_and_builds_an_env(shared_data):
    env_config, eval_data = real_faces.training_config(shared_data / "train", real_tracking.CONFIG)
    assert all(spec.startswith("stills:") for spec in env_config["dataset"] if spec != "synthetic")
    assert eval_data.startswith("stills:") and "celeba_identities" in eval_data
    env = gym.make("facebox/FaceTracking-v0", config=env_config)
    assert len(env.unwrapped.dataset.sources) == 4
    obs, info = env.reset(seed=0)
    assert 0.0 < info["iou"] <= 1.0


def test_seeds_are_trained_once_and_the_table_has_mean_auc_over_sequences(tmp_path, monkeypatch):
    (tmp_path / "train").mkdir()
    monkeypatch.setattr(real_faces, "training_config", lambda root, path: ({}, "synthetic?length=1&frames=8"))
    trained = []

    def fake_train(*, seed, runs_dir, env, env_kwargs, **_):
        trained.append(seed)
        assert env == "facebox/FaceTracking-v0" and env_kwargs == {"config": {}}
        return tiny_train(Path(runs_dir), "ppo", seed=seed, env_id=env)

    monkeypatch.setattr(real_faces, "train", fake_train)
    argv = ["--data-root", str(tmp_path), "--sequences", "synthetic?length=2&frames=8", "--seeds", "0", "1"]
    argv += ["--trackers", "oracle", "mosse", "--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out")]
    rows = real_tracking.main(argv)
    assert trained == [0, 1]
    assert [(r["tracker"], r["seed"]) for r in rows] == [
        ("real-face tracker", 0),
        ("real-face tracker", 1),
        ("oracle", 0),
        ("mosse", 0),
    ]
    for row in rows:
        per_sequence = [v for k, v in row.items() if k.startswith("auc ")]
        assert len(per_sequence) == 2 and row["mean_auc"] == pytest.approx(sum(per_sequence) / 2)
        assert row["fps"] > 0
    oracle = rows[2]
    assert oracle["mean_auc"] > 0.7 and oracle["mean_auc"] > rows[0]["mean_auc"]  # an untrained agent is no oracle
    table = (tmp_path / "out" / "real-face_tracker.md").read_text()
    assert table.startswith("| tracker | seeds | mean AUC | mean P@20 |") and "| real-face tracker | 2 |" in table
    assert (tmp_path / "out" / "success.png").is_file()
    real_tracking.main(argv)
    assert trained == [0, 1]  # finished seeds are not trained again
