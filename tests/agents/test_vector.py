"""make_venv's vec envs: SB3's observations from the batched env and from the subprocess workers; no torch in the
workers, and worker errors that reach the caller."""

from __future__ import annotations

import os
import signal
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from stable_baselines3.common.env_util import make_vec_env  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402
from stable_baselines3.common.monitor import Monitor  # noqa: E402
from stable_baselines3.common.vec_env import SubprocVecEnv  # noqa: E402
from tiny_agents import ENV_ID, TINY_ENV, tiny_ppo  # noqa: E402

from facebox.agents.models import make_venv  # noqa: E402
from facebox.agents.vec_env import BatchedVecEnv, EnvWorkerError, TorchFreeSubprocVecEnv  # noqa: E402
from facebox.config import ConfigError  # noqa: E402


def torch_loaded(venv) -> list[bool]:
    """Whether each worker has torch in memory: its shared libraries in the worker's memory map, seen from outside
    so that the probe itself imports nothing into the worker."""
    return ["libtorch" in Path(f"/proc/{p.pid}/maps").read_text() for p in venv.processes]


@pytest.fixture
def venv():
    venv = make_venv(ENV_ID, 2, 0, TINY_ENV, kind="subprocess")
    yield venv
    venv.close()


def test_the_probe_sees_torch_in_sb3_workers():
    venv = make_vec_env(gym.spec(ENV_ID).make, n_envs=2, env_kwargs=TINY_ENV, vec_env_cls=SubprocVecEnv)
    try:
        assert torch_loaded(venv) == [True, True]
    finally:
        venv.close()


def test_workers_do_not_import_torch(venv):
    venv.reset()
    venv.step(np.array([0, 8]))
    assert torch_loaded(venv) == [False, False]


@pytest.mark.parametrize("kind", ["batched", "subprocess"])
def test_observations_match_sb3_subproc_vec_env(kind):
    kwargs = {"n_envs": 3, "seed": 7, "env_kwargs": TINY_ENV}
    ours = make_venv(ENV_ID, 3, 7, TINY_ENV, kind=kind)
    theirs = make_vec_env(gym.spec(ENV_ID).make, vec_env_cls=SubprocVecEnv, **kwargs)
    try:
        assert ours.action_space.sample() == theirs.action_space.sample()  # seeded alike in the worker
        first = ours.reset(), theirs.reset()
        for key in first[0]:
            np.testing.assert_array_equal(first[0][key], first[1][key])
        rng = np.random.default_rng(0)
        ended = 0
        for _ in range(50):  # random actions trigger often: several autoresets per env
            actions = rng.integers(0, 9, 3)
            (obs, rewards, dones, infos), (obs_sb3, rewards_sb3, dones_sb3, infos_sb3) = (
                ours.step(actions),
                theirs.step(actions),
            )
            for key in obs:
                np.testing.assert_array_equal(obs[key], obs_sb3[key])
            np.testing.assert_array_equal(rewards, rewards_sb3)
            np.testing.assert_array_equal(dones, dones_sb3)
            for info, info_sb3 in zip(infos, infos_sb3, strict=True):
                assert info.keys() == info_sb3.keys()
                assert info["TimeLimit.truncated"] == info_sb3["TimeLimit.truncated"]
                if "terminal_observation" in info:
                    ended += 1
                    for key in obs:
                        np.testing.assert_array_equal(
                            info["terminal_observation"][key], info_sb3["terminal_observation"][key]
                        )
                    assert info["episode"]["l"] == info_sb3["episode"]["l"]
                    assert info["episode"]["r"] == pytest.approx(info_sb3["episode"]["r"], abs=1e-6)  # Monitor rounds
        assert ended >= 3
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize("kind", ["batched", "subprocess"])
def test_sb3_logs_episodes_and_evaluates_as_with_monitor(kind):
    venv = make_venv(ENV_ID, 2, 0, TINY_ENV, kind=kind)
    assert venv.env_is_wrapped(Monitor) == [True, True]
    model = tiny_ppo(venv)
    model.learn(128)
    assert model.ep_info_buffer, "no episode statistics reached SB3"
    assert all(set(ep) >= {"r", "l"} and 1 <= ep["l"] <= 40 for ep in model.ep_info_buffer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SB3 warns when the env is not Monitor-wrapped
        rewards, lengths = evaluate_policy(model, venv, n_eval_episodes=2, return_episode_rewards=True)
    assert len(rewards) == 2 and all(1 <= n <= 40 for n in lengths)
    if kind == "subprocess":
        assert torch_loaded(venv) == [False, False]
    venv.close()


def test_auto_batches_the_localization_env_unless_its_config_cannot_be():
    batched = make_venv(ENV_ID, 2, 0, TINY_ENV)
    continuous = {"config": {**TINY_ENV["config"], "action": {"type": "continuous"}}}
    workers = make_venv(ENV_ID, 2, 0, continuous)
    try:
        assert isinstance(batched, BatchedVecEnv) and isinstance(workers, TorchFreeSubprocVecEnv)
    finally:
        batched.close()
        workers.close()
    with pytest.raises(ConfigError, match="vec env kind"):
        make_venv(ENV_ID, 2, 0, continuous, kind="batched")
    with pytest.raises(ConfigError, match="vec env kind"):
        make_venv(ENV_ID, 2, 0, TINY_ENV, kind="threads")


@pytest.mark.timeout(60)
def test_an_error_in_a_step_names_the_worker_and_the_venv_stays_usable(venv):
    venv.reset()
    with pytest.raises(EnvWorkerError) as raised:
        venv.step(np.array([0, 99]))
    message = str(raised.value)
    assert raised.value.index == 1
    assert message.startswith("env worker 1: 'step' raised ValueError: action")
    assert "is not in Discrete(9)" in message
    assert "Traceback (most recent call last)" in message and "in check" in message  # the worker's traceback
    assert venv.reset()["glimpse"].shape == (2, 32, 32, 3)  # the pipes are in step: every reply was read
    venv.step(np.array([0, 1]))


@pytest.mark.timeout(60)
def test_close_returns_after_a_worker_error(venv):
    venv.reset()
    venv.step_async(np.array([99, 0]))
    venv.close()  # a step never collected, with a failure among its replies
    assert venv.closed and not any(p.is_alive() for p in venv.processes)


@pytest.mark.timeout(60)
def test_a_dead_worker_is_named(venv):
    venv.reset()
    os.kill(venv.processes[0].pid, signal.SIGKILL)
    with pytest.raises(EnvWorkerError, match=r"^env worker 0: exited without replying \(exit code -9\)"):
        venv.step(np.array([0, 1]))
    venv.close()


@pytest.mark.timeout(60)
def test_a_corrupt_image_in_a_worker_names_the_file(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png at all")
    (tmp_path / "faces.csv").write_text("image,x0,y0,x1,y1\nbad.png,10,10,50,50\n")
    config = {**TINY_ENV["config"], "dataset": f"csv:{tmp_path / 'faces.csv'}"}
    with pytest.raises(EnvWorkerError, match="bad.png"):  # at construction or at the first reset
        venv = make_venv(ENV_ID, 2, 0, {"config": config}, kind="subprocess")
        try:
            venv.reset()
        finally:
            venv.close()
    with pytest.raises(ValueError, match="bad.png"):  # in process: at construction, as the single env
        make_venv(ENV_ID, 2, 0, {"config": config}, kind="batched")


@pytest.mark.timeout(60)
def test_an_unknown_command_is_named_and_the_worker_keeps_serving(venv):
    venv.remotes[1].send(("bogus", None))
    with pytest.raises(
        EnvWorkerError, match=r"env worker 1: 'bogus' raised ValueError: unknown worker command 'bogus'"
    ):
        venv.remotes[1].recv()
    assert len(venv.reset()["glimpse"]) == 2
