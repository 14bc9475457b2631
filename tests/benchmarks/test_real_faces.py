"""``facebox real-faces``: the training mixture from the shared folder, training each seed once, and the real-set
table over seeds beside the baselines."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest

pytest.importorskip("stable_baselines3")

from tiny_agents import TINY_ENV, tiny_train  # noqa: E402

from facebox.benchmarks import real_faces  # noqa: E402


def test_the_training_config_fills_in_the_folder_and_builds_an_env(shared_data):
    env_config, eval_data = real_faces.training_config(shared_data / "train")
    assert all(str(shared_data / "train") in spec for spec in env_config["dataset"] if spec != "synthetic")
    assert "celeba_identities" in eval_data and not any("celeba_identities" in s for s in env_config["dataset"])
    env = gym.make("facebox/FaceLocalization-v0", config={**env_config, "image_cache": 0})
    assert len(env.unwrapped.dataset.sources) == 4
    assert env.reset(seed=0)[0]["glimpse"].shape == (64, 64, 3)


def test_a_missing_training_folder_is_named_before_anything_starts(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "train")):
        real_faces.main(["--data-root", str(tmp_path), "--out", str(tmp_path / "out")])


def test_each_seed_is_trained_once_and_the_table_gives_mean_and_std_over_seeds(tmp_path, monkeypatch):
    (tmp_path / "train").mkdir()
    monkeypatch.setattr(real_faces, "training_config", lambda root: (dict(TINY_ENV["config"]), "synthetic?seed=9"))
    trained = []

    def fake_train(*, seed, runs_dir, env_kwargs, eval_data, **_):
        trained.append(seed)
        assert env_kwargs == {"config": TINY_ENV["config"]} and eval_data == "synthetic?seed=9"
        return tiny_train(Path(runs_dir), "ppo", seed=seed)

    def fake_localize(argv):
        policies = [argv[i + 1] for i, flag in enumerate(argv) if flag == "--policy"]
        seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else 0
        return [
            {
                "data": "wider",
                "policy": p,
                "success@0.5": 0.1 * (seed + 1),
                "success@0.7": 0.0,
                "mean_iou": 0.5,
                "median_steps": 9.0,
                "policy_steps_per_s": 100.0,
            }
            for p in policies
        ]

    monkeypatch.setattr(real_faces, "train", fake_train)
    monkeypatch.setattr(real_faces.localize, "main", fake_localize)
    argv = ["--data-root", str(tmp_path), "--seeds", "0", "1", "--runs-dir", str(tmp_path / "runs")]
    argv += ["--out", str(tmp_path / "out"), "--baselines", "haar"]
    rows = real_faces.main(argv)
    assert trained == [0, 1]
    assert [(r["policy"], r["seed"]) for r in rows] == [("real-face agent", 0), ("real-face agent", 1), ("haar", 0)]
    table = (tmp_path / "out" / "real-face_agent.md").read_text()
    assert (
        "| wider · real-face agent | 2 | 0.150 ± 0.050 |" in table and "| wider · haar | 1 | 0.100 ± 0.000 |" in table
    )
    real_faces.main(argv)
    assert trained == [0, 1]  # finished seeds are not trained again
