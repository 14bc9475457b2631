"""``make demo``: the seed and warm start it is given, the table on held-out images."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

pytest.importorskip("stable_baselines3")

from tiny_agents import tiny_train  # noqa: E402


def test_demo_trains_the_seed_and_warm_start_it_is_given_and_compares_on_held_out_images(tmp_path, monkeypatch):
    from facebox.benchmarks import demo

    calls = []

    def fake_train(*, algo, seed, bc_steps, runs_dir, command):
        calls.append((algo, seed, bc_steps))
        return tiny_train(Path(runs_dir), algo, seed=seed, bc_steps=bc_steps)

    monkeypatch.setattr(demo, "train", fake_train)
    monkeypatch.setenv("FACEBOX_SHARED_DATA", str(tmp_path / "no shared data"))
    argv = ["--runs-dir", str(tmp_path), "--episodes", "3", "--seed", "3", "--bc-steps", "0"]
    rows = demo.main(argv)
    assert calls == [("ppo", 3, 0)]
    assert [(r["policy"], r["episodes"]) for r in rows] == [("agent", 3), ("greedy oracle", 3), ("random", 3)]
    assert rows[1]["success@0.5"] == 1.0  # the oracle on the held-out images
    (run_dir,) = tmp_path.iterdir()
    assert "__s3__" in run_dir.name and (run_dir / "eval" / "episodes.gif").is_file()


def test_with_the_shared_data_the_demo_also_prints_the_real_set_table_of_its_agent(tmp_path, monkeypatch):
    from facebox.benchmarks import demo

    monkeypatch.setattr(demo, "train", lambda **kw: tiny_train(Path(kw["runs_dir"]), "ppo", seed=0, bc_steps=0))
    (tmp_path / "shared").mkdir()
    monkeypatch.setenv("FACEBOX_SHARED_DATA", str(tmp_path / "shared"))
    calls = []
    monkeypatch.setattr(demo.localize, "main", calls.append)
    demo.main(["--runs-dir", str(tmp_path / "runs"), "--episodes", "2", "--bc-steps", "0"])
    (argv,) = calls
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert argv[argv.index("--real-sets") + 1] == str(tmp_path / "shared")
    policies = [argv[i + 1] for i, flag in enumerate(argv) if flag == "--policy"]
    assert policies == [f"model:{run_dir / 'final_model.zip'}", "oracle", "random", "haar"]


class Stop(Exception):
    pass


def test_demo_records_the_shell_command_that_repeats_it(tmp_path, monkeypatch):
    from facebox.benchmarks import demo

    commands = []

    def fake_train(*, algo, seed, bc_steps, runs_dir, command):
        commands.append(command)
        raise Stop  # before training: only the recorded command matters here

    monkeypatch.setattr(demo, "train", fake_train)
    with pytest.raises(Stop):
        demo.demo(tmp_path / "my runs", episodes=7, seed=2, bc_steps=100)
    argv = shlex.split(commands[0])
    assert argv[:4] == [sys.executable, "-m", "facebox.benchmarks.cli", "demo"]
    with pytest.raises(Stop):
        demo.main(argv[4:])  # the command line gives the same call, so the same command
    with pytest.raises(Stop):
        demo.demo(tmp_path / "my runs", episodes=7, seed=2)  # the YAML's warm start: no --bc-steps
    assert commands[1] == commands[0] and "--bc-steps" not in commands[2]
