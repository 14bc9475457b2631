"""Ctrl-C and SIGTERM leave a checkpoint that resumes to the run an uninterrupted one would have been; broken
checkpoints are named before anything starts."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

from tiny_agents import TINY_ENCODER, tiny_train  # noqa: E402

from facebox.agents import imitation as imitation_module  # noqa: E402
from facebox.agents import train as train_module  # noqa: E402
from facebox.agents.callbacks import StopOnSignal  # noqa: E402
from facebox.agents.checkpoints import CheckpointError  # noqa: E402
from facebox.interrupts import TrainingInterrupted, stop_requested  # noqa: E402

# A warm start of 2 rounds and an imitation anchor after every rollout: the callback state a resume must keep.
BC = {"steps": 120, "rounds": 2, "epochs": 1, "batch_size": 32, "n_envs": 2, "anchor": 1.0, "verbose": 0}
PPO = {"n_timesteps": 256, "callback": [{"facebox.agents.callbacks.BehaviourCloning": BC}]}


def _callback(model_or_trained, name: str):
    return next(c for c in model_or_trained if type(c).__name__ == name)


def _signal_at_step(monkeypatch, step: int, signum: int = signal.SIGINT) -> None:
    """Send ``signum`` to this process once training reaches ``step`` (as Ctrl-C or a scheduler would)."""

    class SignalAt(StopOnSignal):
        def _on_step(self) -> bool:
            if self.num_timesteps == step:
                os.kill(os.getpid(), signum)
            return super()._on_step()

    monkeypatch.setattr(train_module, "StopOnSignal", SignalAt)


def _bc_state(run_dir, steps: int) -> dict:
    return torch.load(run_dir / "checkpoints" / f"callbacks_{steps}_steps.pt", weights_only=True)["0:BehaviourCloning"]


def test_sigint_during_ppo_saves_a_checkpoint_that_resumes_with_the_anchor(tmp_path, monkeypatch, capsys):
    step = int(np.random.default_rng(17).integers(70, 190))  # some step inside a rollout of the 256
    _signal_at_step(monkeypatch, step)
    with pytest.raises(TrainingInterrupted) as caught:
        tiny_train(tmp_path / "cut", hyperparams=PPO)
    interrupted = caught.value
    assert interrupted.signum == signal.SIGINT and stop_requested() is None  # the handlers are put back
    rollout_start = step - (step - 1) % 64 - 1  # rewound to the start of the rollout it was in
    assert interrupted.checkpoint.name == f"model_{rollout_start}_steps.zip"
    assert f"--resume {interrupted.checkpoint}" in interrupted.command
    state = _bc_state(interrupted.checkpoint.parent.parent, rollout_start)
    assert state["rollouts"] == rollout_start // 64 and state["imitation"]["added"] == 120
    monkeypatch.undo()

    resumed = train_module.train(resume=interrupted.checkpoint, progress_bar=False, verbose=0)
    whole = tiny_train(tmp_path / "whole", hyperparams=PPO)
    assert resumed.model.num_timesteps == whole.model.num_timesteps == 256
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def logged(run_dir, tag: str) -> list[int]:
        return [e.step for e in EventAccumulator(str(run_dir)).Reload().Scalars(tag)]

    assert logged(resumed.run_dir, "bc/anchor_scale") == logged(whole.run_dir, "bc/anchor_scale") == [64, 128, 192, 256]
    assert logged(whole.run_dir, "bc/round_loss") == [60, 120]  # each warm-start round as it ends, by states


def test_sigint_during_dqn_resumes_to_the_same_step_count_and_buffer(tmp_path, monkeypatch):
    step = int(np.random.default_rng(5).integers(60, 190))
    _signal_at_step(monkeypatch, step)
    with pytest.raises(TrainingInterrupted) as caught:
        tiny_train(tmp_path / "cut", "dqn")
    collection_start = step + (1 - step) % 4 - 1  # train_freq 4: where the next collection (unstored) starts
    assert caught.value.checkpoint.name == f"model_{collection_start}_steps.zip"
    monkeypatch.undo()
    resumed = train_module.train(resume=caught.value.checkpoint, progress_bar=False, verbose=0)
    whole = tiny_train(tmp_path / "whole", "dqn")
    assert resumed.model.num_timesteps == whole.model.num_timesteps == 200
    assert resumed.model.replay_buffer.size() == whole.model.replay_buffer.size() == 200


@pytest.mark.parametrize("phase", ["collect", "fit"])
def test_sigterm_during_the_warm_start_resumes_to_the_same_weights(tmp_path, monkeypatch, phase):
    """Stopped in the second round's collection or fit, the resumed run redoes that phase from its start."""
    original = imitation_module.collect_demonstrations if phase == "collect" else imitation_module.Imitation.fit
    sent = []

    def send_halfway(progress, total):
        def tick(n):
            if n >= total // 2 and not sent:
                sent.append(n)
                os.kill(os.getpid(), signal.SIGTERM)
            progress(n)

        return tick

    if phase == "collect":

        def collect(policy, envs, steps, learner_drives, seed, gamma, progress):
            tick = send_halfway(progress, steps) if learner_drives else progress  # the second round: the learner's
            return original(policy, envs, steps, learner_drives, seed, gamma, tick)

        monkeypatch.setattr(imitation_module, "collect_demonstrations", collect)
    else:

        def fit(self, epochs, progress):
            return original(self, epochs, send_halfway(progress, epochs * len(self)) if self.round == 1 else progress)

        monkeypatch.setattr(imitation_module.Imitation, "fit", fit)
    with pytest.raises(TrainingInterrupted) as caught:
        tiny_train(tmp_path / "cut", hyperparams=PPO)
    assert sent and caught.value.signum == signal.SIGTERM
    assert caught.value.checkpoint.name == "model_0_steps.zip"
    state = _bc_state(caught.value.checkpoint.parent.parent, 0)["imitation"]
    assert (state["round"], state["phase"]) == (1, phase) and not state["stats"]
    monkeypatch.undo()

    resumed = train_module.train(resume=caught.value.checkpoint, progress_bar=False, verbose=0)
    whole = tiny_train(tmp_path / "whole", hyperparams=PPO)
    a, b = resumed.model.policy.state_dict(), whole.model.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_without_the_checkpoints_replay_buffer_warns(tmp_path):
    _, run_dir, _ = tiny_train(tmp_path, "dqn", checkpoint_freq=100)
    (run_dir / "checkpoints" / "replay_buffer_100_steps.pkl").unlink()
    with pytest.warns(UserWarning, match="no replay buffer saved with model_100_steps.zip"):
        model, _, _ = train_module.train(
            resume=run_dir / "checkpoints" / "model_100_steps.zip", progress_bar=False, verbose=0
        )
    assert model.replay_buffer.size() == 100  # refilled from empty after the resume


def _rewrite_member(path, member: str, edit) -> None:
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members[member] = edit(members[member])
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda p: p.write_bytes(p.read_bytes()[:500]), "not a readable zip file"),
        (
            lambda p: _rewrite_member(p, "policy.pth", lambda b: b[: len(b) // 2]),
            "member 'policy.pth' is not a readable torch",
        ),
        (lambda p: _rewrite_member(p, "data", lambda b: b[:-20]), "member 'data' is not valid JSON"),
    ],
)
def test_resume_names_a_broken_checkpoint_before_starting_anything(tmp_path, monkeypatch, damage, match):
    _, run_dir, _ = tiny_train(tmp_path, "dqn", checkpoint_freq=100)
    checkpoint = run_dir / "checkpoints" / "model_100_steps.zip"
    damage(checkpoint)
    monkeypatch.setattr(train_module, "make_venv", lambda *a: pytest.fail("workers started before the check"))
    with pytest.raises(CheckpointError, match=f"{checkpoint}: {match}"):
        train_module.train(resume=checkpoint, progress_bar=False, verbose=0)


def test_a_broken_callback_state_file_is_named(tmp_path):
    _, run_dir, _ = tiny_train(tmp_path, checkpoint_freq=64)
    state = run_dir / "checkpoints" / "callbacks_64_steps.pt"
    state.write_bytes(state.read_bytes()[:10])
    with pytest.raises(CheckpointError, match=f"{state}: not a readable callback-state file"):
        train_module.train(resume=run_dir / "checkpoints" / "model_64_steps.zip", verbose=0)
    buffer = io.BytesIO()
    torch.save({"9:Other": {}}, buffer)
    state.write_bytes(buffer.getvalue())
    with pytest.raises(
        CheckpointError, match=r"holds the state of callbacks \['9:Other'\].*builds \['0:PeriodicEvaluation'\]"
    ):
        train_module.train(resume=run_dir / "checkpoints" / "model_64_steps.zip", verbose=0)


def _group_members(pgid: int) -> list[int]:
    """The live processes of process group ``pgid`` (from /proc: workers orphaned by their parent stay listed)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
@pytest.mark.timeout(180)
def test_ctrl_c_to_a_run_with_worker_processes_leaves_a_checkpoint_that_resumes(tmp_path):
    """Ctrl-C in a terminal signals the whole process group, the env workers included: they must not die first."""
    tiny = json.dumps(TINY_ENCODER)
    hyperparams = ["n_envs=2", "n_steps=64", "batch_size=32", "n_epochs=1", "callback=[]", f"policy_kwargs={tiny}"]
    command = [sys.executable, "-m", "facebox.agents.train", "--runs-dir", str(tmp_path), "--no-progress-bar"]
    command += ["--eval-freq", "1000000", "--env-kwargs", "config.observation.size=32", "--hyperparams", *hyperparams]
    run = subprocess.Popen(
        [*command, "n_timesteps=1000000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("*/events.out.tfevents.*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # well into RL
    os.killpg(run.pid, signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 128 + signal.SIGINT, stderr
    deadline = time.monotonic() + 20  # the workers and the forkserver end as their pipes close
    while _group_members(run.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _group_members(run.pid)  # no worker left behind
    checkpoint = Path(stderr.split("--resume ")[1].split()[0])
    steps = int(checkpoint.name.split("_")[1])
    assert checkpoint.is_file() and steps > 0 and steps % 128 == 0  # rewound to a rollout of 2 x 64 steps
    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "facebox.agents.train",
            "--resume",
            str(checkpoint),
            "--no-progress-bar",
            "--hyperparams",
            f"n_timesteps={steps + 128}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert (checkpoint.parent.parent / "final_model.zip").is_file()
