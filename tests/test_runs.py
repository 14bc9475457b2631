"""Run folders: atomic writes, config.yml written and read back one way."""

from __future__ import annotations

import pytest

from facebox.config import ConfigError
from facebox.runs import atomic_write, find_config, load_run_config, write_run


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = atomic_write(tmp_path / "model.zip", lambda f: f.write(b"old"))

    def broken(f):
        f.write(b"half")
        raise RuntimeError("killed mid-save")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.zip"]


def test_a_run_folder_is_written_and_read_back_one_way(tmp_path):
    config = {"algo": "ppo", "env": "facebox/FaceLocalization-v0", "hyperparams": {"n_timesteps": 3}, "seed": 1}
    run = write_run(tmp_path / "run", config, "first command")
    assert write_run(run, config, "second command", exist_ok=True) == run
    assert (run / "command.txt").read_text().splitlines() == ["first command", "second command"]
    (run / "checkpoints").mkdir()
    for path in (run, run / "final_model.zip", run / "checkpoints" / "model_5_steps.zip"):
        assert load_run_config(path) == (config, run)
    with pytest.raises(FileExistsError):
        write_run(run, config, "a new run must not reuse a folder")


def test_configs_that_are_not_a_runs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.yml"):
        find_config(tmp_path / "model.zip")
    (tmp_path / "config.yml").write_text("algo: ppo\nenv: x\n")
    with pytest.raises(ConfigError, match=r"config.yml: missing key 'hyperparams'"):
        load_run_config(tmp_path)
    (tmp_path / "config.yml").write_text("[1, 2]\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_run_config(tmp_path / "model.zip")
