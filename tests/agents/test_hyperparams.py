"""YAML entries, overrides, key checks, the warm-start options; the RL Zoo reads the same files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("stable_baselines3")

from tiny_agents import ENV_ID  # noqa: E402

from facebox.agents.hyperparams import HYPERPARAMS_DIR, load_hyperparams, with_bc_steps  # noqa: E402
from facebox.config import ConfigError, parse_overrides  # noqa: E402


def _write_conf(tmp_path: Path) -> Path:
    path = tmp_path / "ppo.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "default": {"n_timesteps": 1000, "policy": "MultiInputPolicy", "learning_rate": 1.0e-3},
                "facebox/FaceLocalizationContinuous-v0": {"n_timesteps": 50, "policy": "MultiInputPolicy"},
            }
        )
    )
    return path


def test_hyperparams_default_entry_env_entry_and_overrides(tmp_path):
    conf = _write_conf(tmp_path)
    assert load_hyperparams("ppo", ENV_ID, path=conf)["n_timesteps"] == 1000
    own = load_hyperparams("ppo", "facebox/FaceLocalizationContinuous-v0", path=conf)
    assert own["n_timesteps"] == 50
    assert "learning_rate" not in own  # an env entry replaces the default, as in the RL Zoo
    overrides = parse_overrides(["learning_rate=1.0e-4", "policy_kwargs.net_arch=[8, 8]"], "--hyperparams")
    merged = load_hyperparams("ppo", ENV_ID, overrides, path=conf)
    assert merged["learning_rate"] == pytest.approx(1e-4)
    assert merged["policy_kwargs"] == {"net_arch": [8, 8]}


def test_swapping_the_encoder_keeps_only_options_the_new_encoder_takes():
    default = load_hyperparams("dqn", ENV_ID)["policy_kwargs"]
    assert default["encoder"] == "cnn" and default["encoder_kwargs"]
    assert load_hyperparams("dqn", ENV_ID, encoder="cnn")["policy_kwargs"] == default
    assert load_hyperparams("dqn", ENV_ID, encoder="dwsep")["policy_kwargs"] == {**default, "encoder": "dwsep"}
    vit = load_hyperparams("dqn", ENV_ID, {"policy_kwargs": {"encoder_kwargs": {"depth": 1}}}, encoder="vit")
    assert vit["policy_kwargs"] == {**default, "encoder": "vit", "encoder_kwargs": {"depth": 1}}


def test_bc_steps_changes_the_warm_start_states_in_rounds_of_the_yaml_size():
    yaml_entry = load_hyperparams("dqn", ENV_ID)
    (bc,) = yaml_entry["callback"]
    (options,) = bc.values()
    per_round = options["steps"] // options["rounds"]
    for steps, rounds in ((5000, 1), (2 * options["steps"], 2 * options["rounds"]), (3 * per_round, 3)):
        assert with_bc_steps(yaml_entry, steps) == [{next(iter(bc)): {**options, "steps": steps, "rounds": rounds}}]
    assert with_bc_steps(yaml_entry, 0) == []
    assert with_bc_steps({}, 10) == [{next(iter(bc)): {"steps": 10}}]
    # without ``rounds`` in the entry, the callback's default number of rounds (2) sets the round size
    assert with_bc_steps({"callback": [{next(iter(bc)): {"steps": 1000}}]}, 3000) == [
        {next(iter(bc)): {"steps": 3000, "rounds": 6}}
    ]


def test_unknown_hyperparameter_names_the_valid_keys(tmp_path):
    conf = _write_conf(tmp_path)
    with pytest.raises(ConfigError, match=r"learning_rat.*valid keys.*learning_rate"):
        load_hyperparams("ppo", ENV_ID, {"learning_rat": 1.0}, path=conf)
    bad = tmp_path / "bad.yml"
    bad.write_text("default: {n_timesteps: 10, policy: MultiInputPolicy, buffer_size: 10}\n")
    with pytest.raises(ConfigError, match=r"bad.yml.*'buffer_size'"):
        load_hyperparams("ppo", ENV_ID, path=bad)
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["learning_rate"], "--hyperparams")


@pytest.mark.parametrize("algo", ["dqn", "ppo"])
def test_shipped_yaml_files_load(algo):
    hp = load_hyperparams(algo, ENV_ID)
    assert hp["policy"] == f"facebox.agents.policies.{algo.upper()}EncoderPolicy"
    assert (HYPERPARAMS_DIR / f"{algo}.yml").is_file()


def test_rl_zoo_trains_with_our_yaml(tmp_path):
    pytest.importorskip("rl_zoo3")
    tiny_policy = "dict(encoder='cnn', encoder_kwargs=dict(channels=[4, 8, 8], fc=16), net_arch=[])"
    cmd = [
        sys.executable, "-m", "rl_zoo3.train", "--algo", "ppo", "--env", ENV_ID, "--gym-packages", "facebox",
        "--conf-file", str(HYPERPARAMS_DIR / "ppo.yml"), "-n", "64", "-f", str(tmp_path), "--device", "cpu",
        "--eval-freq", "-1", "--seed", "0",
        "--hyperparams", "n_envs:1", "n_steps:64", "batch_size:32", "callback:[]", f"policy_kwargs:{tiny_policy}",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    models = list(tmp_path.glob("ppo/*/*.zip"))
    assert models, result.stdout[-2000:]
