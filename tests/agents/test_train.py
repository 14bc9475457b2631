"""Training on tiny budgets (seconds each): run folders, reproducibility, resume, the command line; learning
itself is in test_learning.py (slow)."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

pytest.importorskip("stable_baselines3")

from tiny_agents import ENV_ID, TINY_ENCODER, TINY_ENV, observations, tiny_train  # noqa: E402

from facebox.agents.callbacks import BehaviourCloning  # noqa: E402
from facebox.agents.hyperparams import load_hyperparams, with_bc_steps  # noqa: E402
from facebox.agents.models import load_run, make_venv  # noqa: E402
from facebox.agents.policies import DQNEncoderPolicy, PPOEncoderPolicy  # noqa: E402
from facebox.agents.train import keep_freed_memory, train  # noqa: E402
from facebox.config import ConfigError  # noqa: E402


def test_tiny_train_save_load_predicts_identically(tmp_path):
    model, run_dir, _ = tiny_train(tmp_path, eval_freq=64)
    assert run_dir.name.startswith("facebox-FaceLocalization-v0__ppo__cnn__s0__")
    config = yaml.safe_load((run_dir / "config.yml").read_text())
    assert config["hyperparams"]["env_kwargs"]["config"]["observation"]["size"] == 32
    assert (run_dir / "command.txt").read_text().strip()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir)).Reload()
    for tag in ("eval/success@0.5", "eval/mean_iou", "eval/steps"):
        assert [e.step for e in events.Scalars(tag)] == [64, 128]
    loaded, _ = load_run(run_dir / "final_model.zip")
    obs = observations()
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    assert isinstance(loaded.policy, PPOEncoderPolicy)


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_seeded_training_is_reproducible(tmp_path, algo):
    a, _, _ = tiny_train(tmp_path / "a", algo, seed=3)
    b, _, _ = tiny_train(tmp_path / "b", algo, seed=3)
    c, _, _ = tiny_train(tmp_path / "c", algo, seed=4)
    pa, pb, pc = (m.policy.state_dict() for m in (a, b, c))
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert not all(torch.equal(pa[k], pc[k]) for k in pa)


def test_checkpoints_and_resume_continue_the_step_count_with_the_checkpoints_own_buffer(tmp_path):
    _, run_dir, _ = tiny_train(tmp_path, "dqn", checkpoint_freq=100)
    checkpoints = run_dir / "checkpoints"
    for kind in ("model", "replay_buffer", "callbacks"):  # every checkpoint keeps what resumes it
        assert sorted(p.name.split(".")[0] for p in checkpoints.glob(f"{kind}_*")) == [
            f"{kind}_100_steps",
            f"{kind}_200_steps",
        ]
    assert not list(checkpoints.glob(".*.tmp"))
    model, resumed_dir, _ = train(
        resume=checkpoints / "model_100_steps.zip",
        hyperparams={"n_timesteps": 300},
        progress_bar=False,
        verbose=0,
    )
    assert resumed_dir == run_dir
    assert model.num_timesteps == 300
    # The buffer saved with that checkpoint, 200 after resuming; SB3 checkpoints in a step's callbacks, before it
    # stores the step's transition, so a periodic checkpoint at step 100 holds 99.
    assert model.replay_buffer.size() == 299


def test_training_keeps_freed_memory_where_the_c_library_allows_it():
    assert keep_freed_memory(1 << 20) == (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc")


def test_bad_env_config_fails_before_training(tmp_path):
    with pytest.raises(ConfigError, match="unknown key.*glimpse_size"):
        tiny_train(tmp_path, env_kwargs={"config": {"glimpse_size": 32}})


def test_the_command_line_has_one_flag_per_training_argument_and_fills_them(monkeypatch):
    import dataclasses

    from facebox.agents import train as train_module

    flags = {a.dest: a for a in train_module.parser()._actions if a.dest != "help"}
    fields = {f.name: f for f in dataclasses.fields(train_module.TrainArgs) if f.metadata.get("cli", True)}
    assert flags.keys() == fields.keys()
    assert all(flags[name].help == f.metadata["help"] for name, f in fields.items())
    got = []
    monkeypatch.setattr(train_module, "train", got.append)
    argv = "--algo dqn --hyperparams n_timesteps=5 policy_kwargs.net_arch=[8] -conf x.yml --no-guided --bc-steps 0"
    train_module.main([*argv.split(), "--env-kwargs", "config.tau=0.5", "--no-progress-bar"])
    (args,) = got
    assert (args.algo, args.conf_file, args.guided, args.bc_steps, args.progress_bar) == (
        "dqn",
        Path("x.yml"),
        False,
        0,
        False,
    )
    assert args.hyperparams == {"n_timesteps": 5, "policy_kwargs": {"net_arch": [8]}}
    assert args.env_kwargs == {"config": {"tau": 0.5}} and args.seed == 0 and args.runs_dir == Path("runs")
    with pytest.raises(ConfigError, match="--env-kwargs 'tau'"):
        train_module.main(["--env-kwargs", "tau"])


def test_train_returns_the_config_it_wrote_and_resume_refuses_other_settings(tmp_path):
    model, run_dir, config = tiny_train(tmp_path)
    assert yaml.safe_load((run_dir / "config.yml").read_text()) == config
    with pytest.raises(ConfigError, match="only --hyperparams.*'encoder'"):
        train(resume=run_dir / "final_model.zip", encoder="vit", verbose=0)


OLD_MAIN = Path(__file__).parent / "old_main"  # tiny runs saved by main 38cc920, before the modules moved


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_models_saved_before_the_move_load_and_predict_identically(algo):
    model, config = load_run(OLD_MAIN / algo / "final_model.zip")
    assert config["hyperparams"]["policy"] == f"facebox.agents.train.{algo.upper()}EncoderPolicy"
    assert type(model.policy) is {"ppo": PPOEncoderPolicy, "dqn": DQNEncoderPolicy}[algo]
    saved = dict(np.load(OLD_MAIN / algo / "predictions.npz"))
    actions, scores = saved.pop("actions"), saved.pop("scores")
    np.testing.assert_array_equal(model.predict(saved, deterministic=True)[0], actions)
    with torch.no_grad():
        obs = model.policy.obs_to_tensor(saved)[0]
        now = model.policy.get_distribution(obs).distribution.logits if algo == "ppo" else model.q_net(obs)
    # the weights are the same; float32 matmul order may differ across torch/BLAS builds by an ulp
    np.testing.assert_allclose(now.numpy(), scores, rtol=1e-5, atol=1e-7)


def test_the_dotted_paths_of_earlier_yamls_and_runs_still_resolve(tmp_path):
    from facebox.agents import exploration, policies
    from facebox.agents import train as train_module

    assert train_module.PPOEncoderPolicy is policies.PPOEncoderPolicy
    assert exploration.BehaviourCloning is BehaviourCloning
    old = {"n_timesteps": 1, "policy": "facebox.agents.train.PPOEncoderPolicy", "policy_kwargs": TINY_ENCODER}
    old["callback"] = [{"facebox.agents.exploration.BehaviourCloning": {"steps": 1000, "rounds": 2}}]
    conf = tmp_path / "old.yml"
    conf.write_text(yaml.safe_dump({"default": old}))
    hp = load_hyperparams("ppo", ENV_ID, path=conf)
    assert with_bc_steps(hp, 3000) == [{"facebox.agents.callbacks.BehaviourCloning": {"steps": 3000, "rounds": 6}}]
    venv = make_venv(ENV_ID, 1, 0, TINY_ENV)
    from facebox.agents.models import build_model

    assert isinstance(build_model("ppo", hp, venv, seed=0).policy, PPOEncoderPolicy)
    venv.close()
