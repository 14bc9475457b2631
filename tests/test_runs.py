"""Run folders: atomic writes, config.yml written and read back one way, pasteable commands, the code's provenance,
and RL Zoo run folders read as runs."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import yaml

from facebox import __version__, runs
from facebox.config import ConfigError
from facebox.runs import atomic_write, find_config, git_commit, load_run_config, write_run

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = atomic_write(tmp_path / "model.zip", lambda f: f.write(b"old"))

    def broken(f):
        f.write(b"half")
        raise RuntimeError("killed mid-save")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.zip"]


def test_a_run_folder_is_written_and_read_back_one_way(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "git_commit", lambda: "0123abc-dirty")
    config = {"algo": "ppo", "env": "facebox/FaceLocalization-v0", "hyperparams": {"n_timesteps": 3}, "seed": 1}
    run = tmp_path / "run"
    written = {**config, "facebox_version": __version__, "git_commit": "0123abc-dirty"}
    assert write_run(run, config, "first command") == written
    assert write_run(run, config, "second command", exist_ok=True) == written
    assert (run / "command.txt").read_text().splitlines() == ["first command", "second command"]
    (run / "checkpoints").mkdir()
    for path in (run, run / "final_model.zip", run / "checkpoints" / "model_5_steps.zip"):
        assert load_run_config(path) == (written, run)
    with pytest.raises(FileExistsError):
        write_run(run, config, "a new run must not reuse a folder")


def test_a_config_written_before_provenance_was_recorded_still_reads(tmp_path):
    config = {"algo": "dqn", "env": "facebox/FaceLocalization-v0", "hyperparams": {"n_timesteps": 3}}
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    assert load_run_config(tmp_path / "final_model.zip") == (config, tmp_path)


def test_configs_that_are_not_a_runs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.yml"):
        find_config(tmp_path / "model.zip")
    (tmp_path / "other" / "facebox-FaceLocalization-v0").mkdir(parents=True)  # a Zoo params folder, wrong run folder
    (tmp_path / "other" / "facebox-FaceLocalization-v0" / "args.yml").write_text("algo: ppo\n")
    with pytest.raises(FileNotFoundError, match="not in an RL Zoo run folder"):
        find_config(tmp_path / "other" / "model.zip")
    (tmp_path / "config.yml").write_text("algo: ppo\nenv: x\n")
    with pytest.raises(ConfigError, match=r"config.yml: missing key 'hyperparams'"):
        load_run_config(tmp_path)
    (tmp_path / "config.yml").write_text("[1, 2]\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_run_config(tmp_path / "model.zip")


def test_the_recorded_command_pastes_back_into_a_shell(tmp_path):
    (tmp_path / "probe.py").write_text("from facebox.runs import shell_command\nprint(shell_command())\n")
    argv = [sys.executable, "-m", "probe", "--data", "synthetic?seed=1&size=64", "a path/with spaces"]
    first = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert shlex.split(first) == argv  # `-m probe`, not the path of probe.py that sys.argv[0] holds
    again = subprocess.run(first, shell=True, cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert again == first


def git(cwd, *args):
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True).stdout.strip()


@needs_git
def test_git_commit_names_the_checkout_and_its_changes(tmp_path):
    source = tmp_path / "repo" / "pkg" / "runs.py"
    source.parent.mkdir(parents=True)
    source.write_text("x = 1\n")
    assert git_commit(source) is None  # not in a checkout
    git(tmp_path / "repo", "init", "-q")
    assert git_commit(source) is None  # in a repository that does not track it
    git(tmp_path / "repo", "add", "pkg/runs.py")
    git(tmp_path / "repo", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first")
    head = git(tmp_path / "repo", "rev-parse", "HEAD")
    assert git_commit(source) == head
    source.write_text("x = 2\n")
    assert git_commit(source) == f"{head}-dirty"


@needs_git
def test_git_commit_is_none_without_git_and_is_this_checkouts_by_default(tmp_path, monkeypatch):
    here = Path(runs.__file__).parent
    tracked = subprocess.run(["git", "-C", str(here), "ls-files", "--error-unmatch", "runs.py"], capture_output=True)
    if tracked.returncode == 0:  # facebox runs from its source checkout
        commit = git_commit()
        assert commit.removesuffix("-dirty") == git(here, "rev-parse", "HEAD")
        assert commit.endswith("-dirty") == bool(git(here, "status", "--porcelain"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on the PATH
    assert git_commit() is None


def write_zoo_run(root, args: dict, hyperparams: dict, name: str = "facebox-FaceLocalization-v0"):
    """A run folder as ``rl_zoo3.train`` saves it: ``yaml.dump`` of OrderedDicts in ``<env>_<n>/<env>/``."""
    run = root / "ppo" / f"{name}_2"
    (run / name).mkdir(parents=True)
    zoo_args = {"algo": "ppo", "env": "facebox/FaceLocalization-v0", "seed": 7, "n_timesteps": -1, **args}
    (run / name / "args.yml").write_text(yaml.dump(OrderedDict(sorted(zoo_args.items()))))
    (run / name / "config.yml").write_text(yaml.dump(OrderedDict(sorted(hyperparams.items()))))
    return run


def test_a_zoo_run_maps_to_a_run_config_with_its_command_line_overrides(tmp_path):
    size = {"config": {"observation": {"size": 48}}}
    hyperparams = {"n_timesteps": 1000, "policy": "MultiInputPolicy", "env_kwargs": {"config": {"tau": 0.5}}}
    run = write_zoo_run(
        tmp_path, {"n_timesteps": 64, "env_kwargs": size, "eval_episodes": 5, "save_freq": -1}, hyperparams
    )
    config, run_dir = load_run_config(run / "rl_model_32_steps.zip")
    assert run_dir == run
    assert config["hyperparams"] == {"n_timesteps": 64, "policy": "MultiInputPolicy", "env_kwargs": size}
    assert (config["algo"], config["env"], config["seed"]) == ("ppo", "facebox/FaceLocalization-v0", 7)
    assert config["eval"]["data"] is None and config["eval"]["episodes"] == 5  # the Zoo names no evaluation data
    run = write_zoo_run(tmp_path / "b", {"env_kwargs": None}, {**hyperparams, "env_kwargs": {"config": size["config"]}})
    assert load_run_config(run)[0]["hyperparams"]["env_kwargs"] == size  # the YAML's, when the command line has none
    assert load_run_config(run)[0]["hyperparams"]["n_timesteps"] == 1000  # -n -1: the YAML's


@pytest.mark.parametrize("key", runs.ZOO_WRAPPERS)
def test_a_zoo_run_behind_an_observation_wrapper_is_refused(tmp_path, key):
    run = write_zoo_run(tmp_path, {}, {key: True})
    with pytest.raises(ConfigError, match=rf"FaceLocalization-v0/config.yml: {key}=True changes what the model"):
        load_run_config(run)


def test_zoo_files_are_read_safely_and_checked(tmp_path):
    run = write_zoo_run(tmp_path, {}, {})
    params = run / "facebox-FaceLocalization-v0"
    marker = tmp_path / "executed"
    (params / "config.yml").write_text(f"!!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ConfigError, match="config.yml: not valid YAML"):
        load_run_config(run)
    assert not marker.exists()
    (params / "config.yml").write_text("!!python/object/apply:collections.OrderedDict [1, 2]\n")
    with pytest.raises(ConfigError, match="config.yml: not valid YAML.*OrderedDict's \\[key, value\\] pairs"):
        load_run_config(run)
    (params / "args.yml").write_text(yaml.dump(OrderedDict(algo="ppo", env="x")))
    with pytest.raises(ConfigError, match="args.yml: missing key 'seed'"):
        load_run_config(run)
