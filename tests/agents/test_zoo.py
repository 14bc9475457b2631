"""A model trained by the RL Zoo from our hyperparams/ppo.yml (``python -m rl_zoo3.train``, trained once per module
in seconds) is read by ``facebox evaluate`` and the localization harness, and plays in ``rl_zoo3.enjoy``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import OrderedDict

import pytest
import yaml

pytest.importorskip("rl_zoo3")

from tiny_agents import ENV_ID, TINY_ENCODER, TINY_ENV  # noqa: E402

from facebox.agents.hyperparams import load_hyperparams, warm_start_options  # noqa: E402
from facebox.agents.models import load_run, make_eval_env  # noqa: E402
from facebox.benchmarks import evaluate, localize  # noqa: E402
from facebox.config import ConfigError  # noqa: E402
from facebox.runs import load_run_config  # noqa: E402

ZOO_NAME = ENV_ID.replace("/", "-")  # how the Zoo names files and folders for a namespaced env id
STEPS = 128
WARM_START = "facebox.agents.callbacks.BehaviourCloning"  # as hyperparams/ppo.yml names it
ZOO_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def zoo(module: str, *args: str, cwd) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", module, "--algo", "ppo", "--env", ENV_ID, "--gym-packages", "facebox", *args]
    done = subprocess.run(command, cwd=cwd, env=ZOO_ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def zoo_run(tmp_path_factory):
    """``logs/ppo/<env>_1/`` of a tiny Zoo run of the default entry of hyperparams/ppo.yml (its policy class, warm
    start and imitation anchor), shrunk: a tiny CNN, 128 steps (``-n``), 256 warm-start states, and 32 px glimpses by
    ``--env-kwargs`` (the Zoo gives its evaluation env the command line's env kwargs, not the YAML's)."""
    root = tmp_path_factory.mktemp("zoo")
    overrides = {"n_envs": 1, "n_steps": 64, "batch_size": 32, "n_epochs": 1, "policy_kwargs": TINY_ENCODER}
    entry = load_hyperparams("ppo", ENV_ID, overrides)
    tiny_warm_start = {"steps": 256, "rounds": 2, "epochs": 1, "capacity": 256, "n_envs": 2, "torch_threads": 1}
    entry["callback"] = [{WARM_START: {**warm_start_options(entry), **tiny_warm_start}}]
    (root / "tiny.yml").write_text(yaml.safe_dump({ENV_ID: entry}))
    options = {"--conf-file": "tiny.yml", "-f": "logs", "-n": STEPS, "--seed": 3, "--eval-freq": 64}
    options |= {"--eval-episodes": 2, "--save-freq": 64, "--device": "cpu", "--verbose": 0}
    options["--env-kwargs"] = f"config:{TINY_ENV['config']!r}"  # the Zoo evaluates this as Python
    zoo("rl_zoo3.train", *(str(v) for item in options.items() for v in item), cwd=root)
    return root / "logs" / "ppo" / f"{ZOO_NAME}_1"


def test_the_zoo_run_reads_as_a_run_config(zoo_run):
    config, run_dir = load_run_config(zoo_run / f"{ZOO_NAME}.zip")
    assert run_dir == zoo_run
    assert (config["algo"], config["env"], config["seed"], config["guided"]) == ("ppo", ENV_ID, 3, False)
    hyperparams = config["hyperparams"]
    assert hyperparams["n_timesteps"] == STEPS  # -n, not the YAML's 32768
    assert hyperparams["env_kwargs"] == TINY_ENV
    assert hyperparams["policy"] == "facebox.agents.policies.PPOEncoderPolicy"
    assert config["eval"] == {"data": None, "episodes": 2, "freq": 64}  # evaluated on the held-out twin:
    assert make_eval_env(config).unwrapped.config["dataset"] == "synthetic?seed=1"
    real = {**config, "hyperparams": {**hyperparams, "env_kwargs": {"config": {"dataset": "wider:/data/wider"}}}}
    with pytest.raises(ConfigError, match="name the held-out evaluation data explicitly"):
        make_eval_env(real)
    for other in (zoo_run / "best_model.zip", zoo_run / "rl_model_64_steps.zip", zoo_run):
        assert load_run_config(other) == (config, zoo_run)


def test_train_does_not_resume_a_zoo_run_into_the_zoos_folder(zoo_run):
    from facebox.agents.train import train

    before = sorted(p.name for p in zoo_run.rglob("*"))
    with pytest.raises(ConfigError, match="an RL Zoo run; continue it with the Zoo"):
        train(resume=zoo_run / "rl_model_64_steps.zip", verbose=0)
    assert sorted(p.name for p in zoo_run.rglob("*")) == before


def test_facebox_evaluate_measures_the_zoo_model(zoo_run, capsys):
    summary = evaluate.main(["--model", str(zoo_run / "best_model.zip"), "--episodes", "3", "--record", "0"])
    assert summary["episodes"] == 3 and 0 <= summary["mean_iou"] <= 1
    assert "success@0.5" in capsys.readouterr().out
    metrics = yaml.safe_load((zoo_run / "eval" / "metrics.yml").read_text())  # RUN/eval, beside the models
    assert metrics["data"] == "synthetic?seed=1" and metrics["episodes"] == 3


def test_the_localization_harness_runs_the_zoo_model_beside_the_oracle(zoo_run, tmp_path):
    model = f"model:{zoo_run / f'{ZOO_NAME}.zip'}"
    argv = ["--policy", model, "--policy", "oracle", "--episodes", "3", "--gif-episodes", "0", "--out", str(tmp_path)]
    rows = localize.main(argv)
    assert [(r["policy"], r["episodes"]) for r in rows] == [(model.removeprefix("model:"), 3), ("oracle", 3)]
    assert 0 <= rows[0]["success@0.5"] <= 1 and rows[1]["success@0.5"] == 1.0


def test_rl_zoo_enjoy_plays_the_zoo_model(zoo_run):
    logs = zoo_run.parent.parent
    done = zoo("rl_zoo3.enjoy", "-f", str(logs), "-n", "20", "--no-render", "--device", "cpu", cwd=logs.parent)
    assert f"Loading {zoo_run / ZOO_NAME}.zip" in done.stdout


def test_a_zoo_algo_facebox_does_not_load_is_named_with_its_file(tmp_path):
    run = tmp_path / "a2c" / f"{ZOO_NAME}_1"
    (run / ZOO_NAME).mkdir(parents=True)
    (run / ZOO_NAME / "args.yml").write_text(yaml.dump(OrderedDict(algo="a2c", env=ENV_ID, seed=0)))
    (run / ZOO_NAME / "config.yml").write_text(yaml.dump(OrderedDict(n_timesteps=10, policy="MultiInputPolicy")))
    (run / f"{ZOO_NAME}.zip").write_bytes(b"")
    with pytest.raises(ConfigError, match=rf"{ZOO_NAME}/args.yml: unknown algo 'a2c'"):
        load_run(run / f"{ZOO_NAME}.zip")
