"""Training, evaluation and exploration machinery on tiny budgets (seconds each); learning itself is in
test_learning.py (slow)."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml

pytest.importorskip("stable_baselines3")

import facebox  # noqa: F401, E402  (registers the environments)
from facebox.agents import evaluate  # noqa: E402
from facebox.agents.callbacks import atomic_write  # noqa: E402
from facebox.agents.exploration import (  # noqa: E402
    Demonstrations,
    GuidedDQN,
    behaviour_cloning,
    collect_demonstrations,
    guided_action,
    imitation_loss,
)
from facebox.agents.train import (  # noqa: E402
    HYPERPARAMS_DIR,
    PPOEncoderPolicy,
    held_out,
    keep_freed_memory,
    load_hyperparams,
    make_venv,
    parse_overrides,
    train,
)

ENV_ID = "facebox/FaceLocalization-v0"
TINY_ENCODER = {"encoder": "cnn", "encoder_kwargs": {"channels": [4, 8, 8], "fc": 16, "stride": 1}, "net_arch": []}
TINY_ENV = {"config": {"observation": {"size": 32}}}


def _tiny_ppo(venv):
    from stable_baselines3 import PPO

    return PPO(PPOEncoderPolicy, venv, policy_kwargs=TINY_ENCODER, seed=0, n_steps=64, batch_size=32, n_epochs=1)


TINY = {
    "ppo": {"n_timesteps": 128, "n_envs": 1, "n_steps": 64, "batch_size": 32, "n_epochs": 1},
    "dqn": {"n_timesteps": 200, "n_envs": 1, "learning_starts": 50, "buffer_size": 500, "train_freq": 4},
}


def _tiny_train(tmp_path: Path, algo: str = "ppo", seed: int = 0, env_id: str = ENV_ID, **kwargs):
    hyperparams = {**TINY[algo], "policy_kwargs": TINY_ENCODER, "callback": [], **kwargs.pop("hyperparams", {})}
    options = {"eval_freq": 10**6, "eval_episodes": 2, "checkpoint_freq": 10**6, "progress_bar": False, "verbose": 0}
    return train(
        algo,
        env_id,
        seed=seed,
        hyperparams=hyperparams,
        runs_dir=tmp_path,
        **{"env_kwargs": TINY_ENV, **options, **kwargs},
    )


def _observations(n: int = 6) -> dict[str, np.ndarray]:
    env = gym.make(ENV_ID, config=TINY_ENV["config"])
    obs = [env.reset(seed=i)[0] for i in range(n)]
    return {key: np.stack([o[key] for o in obs]) for key in obs[0]}


# -- hyperparameters ---------------------------------------------------------------------------------------------


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
    from facebox.agents.train import _with_bc_steps

    yaml_entry = load_hyperparams("dqn", ENV_ID)
    (bc,) = yaml_entry["callback"]
    (options,) = bc.values()
    per_round = options["steps"] // options["rounds"]
    for steps, rounds in ((5000, 1), (2 * options["steps"], 2 * options["rounds"]), (3 * per_round, 3)):
        assert _with_bc_steps(yaml_entry, steps) == [{next(iter(bc)): {**options, "steps": steps, "rounds": rounds}}]
    assert _with_bc_steps(yaml_entry, 0) == []
    assert _with_bc_steps({}, 10) == [{next(iter(bc)): {"steps": 10}}]
    # without ``rounds`` in the entry, the callback's default number of rounds (2) sets the round size
    assert _with_bc_steps({"callback": [{next(iter(bc)): {"steps": 1000}}]}, 3000) == [
        {next(iter(bc)): {"steps": 3000, "rounds": 6}}
    ]


def test_unknown_hyperparameter_names_the_valid_keys(tmp_path):
    conf = _write_conf(tmp_path)
    with pytest.raises(KeyError, match=r"learning_rat.*valid keys.*learning_rate"):
        load_hyperparams("ppo", ENV_ID, {"learning_rat": 1.0}, path=conf)
    bad = tmp_path / "bad.yml"
    bad.write_text("default: {n_timesteps: 10, policy: MultiInputPolicy, buffer_size: 10}\n")
    with pytest.raises(KeyError, match=r"bad.yml.*'buffer_size'"):
        load_hyperparams("ppo", ENV_ID, path=bad)
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["learning_rate"], "--hyperparams")


@pytest.mark.parametrize("algo", ["dqn", "ppo"])
def test_shipped_yaml_files_load(algo):
    hp = load_hyperparams(algo, ENV_ID)
    assert hp["policy"] == f"facebox.agents.train.{algo.upper()}EncoderPolicy"
    assert (HYPERPARAMS_DIR / f"{algo}.yml").is_file()


def test_held_out_moves_the_synthetic_seed_and_refuses_real_data():
    assert held_out("synthetic", 1) == "synthetic?seed=1"
    assert held_out("synthetic?seed=4&size=96", 2) == "synthetic?seed=6&size=96"
    with pytest.raises(ValueError, match="--eval-data"):
        held_out("csv:/nowhere.csv", 1)


# -- training ------------------------------------------------------------------------------------------------


def test_tiny_train_save_load_predicts_identically(tmp_path):
    model, run_dir = _tiny_train(tmp_path, eval_freq=64)
    assert run_dir.name.startswith("facebox-FaceLocalization-v0__ppo__cnn__s0__")
    config = yaml.safe_load((run_dir / "config.yml").read_text())
    assert config["hyperparams"]["env_kwargs"]["config"]["observation"]["size"] == 32
    assert (run_dir / "command.txt").read_text().strip()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir)).Reload()
    for tag in ("eval/success@0.5", "eval/mean_iou", "eval/steps"):
        assert [e.step for e in events.Scalars(tag)] == [64, 128]
    loaded, _ = evaluate.load_run(run_dir / "final_model.zip")
    obs = _observations()
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    assert isinstance(loaded.policy, PPOEncoderPolicy)


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_seeded_training_is_reproducible(tmp_path, algo):
    a, _ = _tiny_train(tmp_path / "a", algo, seed=3)
    b, _ = _tiny_train(tmp_path / "b", algo, seed=3)
    c, _ = _tiny_train(tmp_path / "c", algo, seed=4)
    pa, pb, pc = (m.policy.state_dict() for m in (a, b, c))
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert not all(torch.equal(pa[k], pc[k]) for k in pa)


def test_checkpoints_and_resume_continue_the_step_count(tmp_path):
    _, run_dir = _tiny_train(tmp_path, "dqn", checkpoint_freq=100)
    checkpoints = run_dir / "checkpoints"
    assert sorted(p.name for p in checkpoints.glob("model_*.zip")) == ["model_100_steps.zip", "model_200_steps.zip"]
    assert [p.name for p in checkpoints.glob("replay_buffer_*.pkl")] == ["replay_buffer_200_steps.pkl"]
    assert not list(checkpoints.glob(".*.tmp"))
    model, resumed_dir = train(
        resume=checkpoints / "model_100_steps.zip",
        hyperparams={"n_timesteps": 300},
        progress_bar=False,
        verbose=0,
    )
    assert resumed_dir == run_dir
    assert model.num_timesteps == 300
    assert model.replay_buffer.size() > 0  # the saved buffer came back: 100 steps before, 200 after resuming


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = atomic_write(tmp_path / "model.zip", lambda f: f.write(b"old"))

    def broken(f):
        f.write(b"half")
        raise RuntimeError("killed mid-save")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.zip"]


def test_training_keeps_freed_memory_where_the_c_library_allows_it():
    assert keep_freed_memory(1 << 20) == (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc")


def test_bad_env_config_fails_before_training(tmp_path):
    with pytest.raises(KeyError, match="unknown key.*glimpse_size"):
        _tiny_train(tmp_path, env_kwargs={"config": {"glimpse_size": 32}})


# -- evaluation ----------------------------------------------------------------------------------------------


def test_evaluate_prints_metrics_and_writes_a_gif(tmp_path, capsys):
    _, run_dir = _tiny_train(tmp_path)
    out = tmp_path / "eval"
    summary = evaluate.main(
        ["--model", str(run_dir / "final_model.zip"), "--episodes", "3", "--record", "1", "--out", str(out)]
    )
    printed = capsys.readouterr().out
    for key in ("success@0.5", "success@0.7", "mean_iou", "median_steps"):
        assert key in printed
        assert 0 <= summary[key] <= 40
    assert summary["episodes"] == 3
    assert (out / "episodes.gif").stat().st_size > 0
    assert yaml.safe_load((out / "metrics.yml").read_text())["episodes"] == 3


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_agents_train_on_the_tracking_env_and_run_in_the_otb_runner(tmp_path, algo):
    from facebox.benchmarks import track

    _, run_dir = _tiny_train(tmp_path, algo, env_id="facebox/FaceTracking-v0")
    model = f"model:{run_dir / 'final_model.zip'}"  # observation settings come from the run's config.yml
    out = tmp_path / "track"
    (row,) = track.main(["--data", "synthetic?length=1", "--tracker", model, "--max-frames", "6", "--out", str(out)])
    assert row["frames"] == 6 and 0.0 <= row["auc"] <= 1.0
    assert (out / "success.png").is_file()


def test_harness_puts_a_trained_model_beside_the_reference_policies(tmp_path):
    from facebox.benchmarks import localize

    _, run_dir = _tiny_train(tmp_path)
    model = run_dir / "final_model.zip"
    rows = localize.main(
        [
            "--data",
            "synthetic?seed=3",
            "--policy",
            f"model:{model}",
            "--policy",
            "oracle",
            "--episodes",
            "4",
            "--gif-episodes",
            "1",
            "--video",
            "mp4",
            "--out",
            str(tmp_path / "table"),
        ]
    )
    assert [r["policy"] for r in rows] == [str(model), "oracle"]
    assert rows[1]["success@0.5"] == 1.0
    assert 1 <= rows[0]["median_steps"] <= 40
    assert (tmp_path / "table" / "model.mp4").stat().st_size > 0
    with pytest.raises(FileNotFoundError, match="nope.zip"):
        localize.main(["--policy", f"model:{tmp_path / 'nope.zip'}", "--episodes", "1"])


# -- exploration ---------------------------------------------------------------------------------------------


def test_guided_action_draws_only_positive_actions():
    rng = np.random.default_rng(0)
    mask = np.zeros(9, bool)
    mask[[2, 5]] = True
    draws = {guided_action(mask, rng) for _ in range(200)}
    assert draws == {2, 5}
    assert {guided_action(np.zeros(9, bool), rng) for _ in range(200)} == set(range(9))


def test_guided_dqn_explores_only_among_positive_actions():
    from facebox.agents.train import DQNEncoderPolicy

    venv = make_venv(ENV_ID, 1, 0, TINY_ENV)
    model = GuidedDQN(DQNEncoderPolicy, venv, policy_kwargs=TINY_ENCODER, buffer_size=100, seed=0, device="cpu")
    model._last_obs = venv.reset()
    masks = np.zeros((3, 9), bool)
    masks[0, 1] = masks[1, [3, 7]] = masks[2, 8] = True
    model._masks = masks
    model.exploration_rate = 1.0
    for _ in range(50):
        actions, buffer_actions = model._sample_action(learning_starts=0, n_envs=3)
        assert actions[0] == 1 and actions[1] in (3, 7) and actions[2] == 8
        np.testing.assert_array_equal(actions, buffer_actions)


def test_guided_dqn_masks_follow_the_envs_through_resets():
    """After every step the kept masks are those of the states the next actions act on, including the first
    state of a new episode (which SB3 reports in reset_infos, not in infos)."""
    from facebox.agents.train import DQNEncoderPolicy

    venv = make_venv(ENV_ID, 1, 0, TINY_ENV)
    model = GuidedDQN(
        DQNEncoderPolicy, venv, policy_kwargs=TINY_ENCODER, buffer_size=300, learning_starts=300, seed=0, device="cpu"
    )
    envs = model.get_env().get_attr("unwrapped")  # DummyVecEnv: the live env objects
    seen = {"checked": 0, "episodes": 0}
    original = model._store_transition

    def store(*args):
        original(*args)
        dones = args[4]
        seen["episodes"] += int(dones.sum())
        expected = np.stack([env.unwrapped.positive_actions() for env in envs])
        np.testing.assert_array_equal(model._masks, expected)
        seen["checked"] += 1

    model._store_transition = store
    model.learn(250)
    assert seen["checked"] >= 250 and seen["episodes"] >= 2


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"rounds": 0}, "rounds >= 1"),
        ({"capacity": -5}, "capacity >= 1"),
    ],
)
def test_behaviour_cloning_names_bad_options(options, match):
    model = _tiny_ppo(make_venv(ENV_ID, 1, 0, TINY_ENV))
    with pytest.raises(ValueError, match=match):
        behaviour_cloning(model, lambda: gym.make(ENV_ID, config=TINY_ENV["config"]), 100, **options)


def test_behaviour_cloning_callback_names_bad_thread_counts():
    from facebox.agents.exploration import BehaviourCloning

    with pytest.raises(ValueError, match="torch_threads >= 1, got 0"):
        BehaviourCloning(steps=100, torch_threads=0)


def test_behaviour_cloning_raises_oracle_agreement_above_chance():
    from stable_baselines3 import PPO

    venv = make_venv(ENV_ID, 1, 0, TINY_ENV)
    model = PPO(PPOEncoderPolicy, venv, policy_kwargs=TINY_ENCODER, seed=0)
    make_env = lambda: gym.make(ENV_ID, config=TINY_ENV["config"])  # noqa: E731
    stats = behaviour_cloning(model, make_env, 2000, rounds=1, epochs=10, learning_rate=3e-3, seed=0).stats
    chance = 1 / 9
    assert stats["agreement_before"] < chance + 0.1
    assert stats["agreement_after"] > chance + 0.2
    assert stats["agreement_after"] > stats["majority"]  # more than always answering the oracle's favourite


def test_demonstrations_carry_the_discounted_returns_of_whole_episodes():
    env = gym.make(ENV_ID, config=TINY_ENV["config"])
    data = collect_demonstrations(None, [env], 30, learner_drives=False, seed=0, gamma=0.9)
    assert len(data) == 30 and np.array_equal(data.labels, data.actions)  # the oracle drove
    # An episode's states are stored last-first: each return is its step's reward plus 0.9 x the next return.
    ends = np.flatnonzero(data.labels == 8)  # the oracle always ends by triggering on the face: reward +3
    assert len(ends) >= 2 and np.allclose(data.returns[ends], 3.0)
    first = slice(ends[0], ends[1])
    rewards = data.returns[first][1:] - 0.9 * data.returns[first][:-1]
    assert np.allclose(rewards, np.round(rewards)) and set(np.round(rewards)) <= {-1.0, 0.0, 1.0}
    assert 1 in np.round(rewards)  # the oracle's moves raise the IoU


def test_a_shorter_collection_is_the_start_of_a_longer_one():
    # Episodes are written in the order they end, each last state first, so cutting at `steps` (mid-episode,
    # possibly with several envs ending on the same step) keeps exactly the first `steps` rows.
    def collect(steps):
        envs = [gym.make(ENV_ID, config=TINY_ENV["config"]) for _ in range(3)]
        return collect_demonstrations(None, envs, steps, learner_drives=False, seed=5, gamma=0.9)

    short, long = collect(97), collect(300)
    assert len(short) == 97 and len(long) == 300
    (obs, *arrays), (long_obs, *long_arrays) = short.batch(np.arange(97)), long.batch(np.arange(97))
    assert all(np.array_equal(obs[k], long_obs[k]) for k in ("glimpse", "history"))
    assert all(np.array_equal(a, b) for a, b in zip(arrays, long_arrays, strict=True))


def test_imitation_buffer_keeps_the_newest_states_up_to_its_capacity():
    from facebox.agents.exploration import Imitation

    policy = _tiny_ppo(make_venv(ENV_ID, 1, 0, TINY_ENV)).policy
    data = collect_demonstrations(None, [gym.make(ENV_ID, config=TINY_ENV["config"])], 25, False, seed=0, gamma=0.9)
    imitation = Imitation(policy, capacity=10)
    first, second = (Demonstrations(*data.batch(np.arange(a, b))) for a, b in ((0, 7), (7, 25)))
    imitation.add(first)
    assert len(imitation) == 7 and np.array_equal(imitation.data.labels[:7], data.labels[:7])
    imitation.add(second)  # 18 more than the 3 free rows: only states 15..24 stay, in ring order
    assert len(imitation) == 10 and imitation.added == 25
    ring = (np.arange(15, 25) % 10).argsort()  # state 15 + j sits in row (15 + j) % 10
    kept = np.arange(15, 25)[ring]
    assert np.array_equal(imitation.data.labels, data.labels[kept])
    assert np.array_equal(imitation.data.observations["glimpse"], data.observations["glimpse"][kept])
    assert np.array_equal(imitation.data.returns, data.returns[kept])
    assert np.isfinite(imitation.fit(1))


def test_mirror_turns_a_state_into_the_same_state_of_the_mirrored_image():
    from facebox.agents.exploration import Mirror, box_geometry
    from facebox.envs.policies import GreedyOracle

    env, twin = (gym.make(ENV_ID, config=TINY_ENV["config"]) for _ in range(2))
    mirror = Mirror.of(env)
    env.reset(seed=3)
    twin.reset(seed=3)
    for action in (0, 0, 3, 5, 1):
        env.step(action)
    a, b = env.unwrapped, twin.unwrapped
    a.box = np.array([30.5, 20.25, 81.0, 70.0])  # under 2 glimpses wide: cropped from the full image, exactly
    a._update_iou()
    obs = a.observation_type.observe(a)
    width = a.image.shape[1]
    b._set_image(np.ascontiguousarray(a.image[:, ::-1]))
    b.box = a.box[[2, 1, 0, 3]] * [-1, 1, -1, 1] + [width, 0, width, 0]
    b.history = a.history[:, mirror.actions]
    b._set_targets(a.targets[:, [2, 1, 0, 3]] * [-1, 1, -1, 1] + [width, 0, width, 0])
    expected = b.observation_type.observe(b)
    label = GreedyOracle().discrete_action(env)
    batch = ({k: np.stack([v, v]) for k, v in obs.items()}, np.array([label] * 2), np.array([1, 1]), np.zeros(2))
    batch = (*batch, np.stack([box_geometry(env)] * 2))
    copies = [np.copy(x) for x in batch[1:]]
    out_obs, labels, actions, returns, geometry = mirror(*batch, rows=np.array([True, False]))
    # equal up to OpenCV's fixed-point interpolation (a one-pixel shift differs by ~10 on average here)
    assert np.abs(out_obs["glimpse"][0].astype(int) - expected["glimpse"]).mean() < 0.5
    assert np.array_equal(out_obs["history"][0], expected["history"])
    assert labels[0] == GreedyOracle().discrete_action(twin) and actions[0] == 0  # left -> right
    np.testing.assert_allclose(geometry[0], box_geometry(twin), atol=1e-6)
    mirrored_moves = [a.action_type.moves.index(mirror.actions[i]) for i in a.action_type.moves]
    np.testing.assert_allclose(b.candidate_ious[mirrored_moves], a.candidate_ious)
    assert np.array_equal(out_obs["glimpse"][1], obs["glimpse"]) and labels[1] == label  # rows not chosen stay
    assert all(np.array_equal(x, y) for x, y in zip(copies, batch[1:], strict=True))  # the input is not changed
    assert np.array_equal(batch[0]["glimpse"][0], obs["glimpse"])
    with pytest.raises(ValueError, match="cannot mirror observation key 'history'"):  # not one-hot
        Mirror.of(gym.make(ENV_ID, config={"action": {"type": "continuous"}}))


def test_imitation_loss_skips_the_geometry_of_faces_out_of_view():
    from torch import nn

    from facebox.agents.exploration import GEOMETRY_SIZE, imitation_loss

    venv = make_venv(ENV_ID, 1, 0, TINY_ENV)
    policy = _tiny_ppo(venv).policy
    data = collect_demonstrations(None, [gym.make(ENV_ID, config=TINY_ENV["config"])], 8, False, seed=0, gamma=0.9)
    data.geometry[:4] = np.nan
    head = nn.Linear(policy.features_extractor.features_dim, GEOMETRY_SIZE)
    tensors = [torch.as_tensor(x) for x in (data.labels, data.actions, data.returns, data.geometry)]
    loss = imitation_loss(policy, policy.obs_to_tensor(data.observations)[0], *tensors, head)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(head.weight.grad).all() and head.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_behaviour_cloning_calibrates_the_values_rl_starts_from(algo):
    from stable_baselines3 import DQN, PPO

    from facebox.agents.train import DQNEncoderPolicy

    venv = make_venv(ENV_ID, 1, 0, TINY_ENV)
    if algo == "ppo":
        model = PPO(PPOEncoderPolicy, venv, policy_kwargs=TINY_ENCODER, seed=0, gamma=0.9)
    else:
        model = DQN(DQNEncoderPolicy, venv, policy_kwargs=TINY_ENCODER, seed=0, gamma=0.9, buffer_size=100)
    data = collect_demonstrations(None, [gym.make(ENV_ID, config=TINY_ENV["config"])], 500, False, seed=9, gamma=0.9)
    tensors = (torch.as_tensor(x) for x in (data.labels, data.actions, data.returns, data.geometry))
    held_out_batch = (model.policy.obs_to_tensor(data.observations)[0], *tensors)
    with torch.no_grad():
        before = imitation_loss(model.policy, *held_out_batch).item()
    make_env = lambda: gym.make(ENV_ID, config=TINY_ENV["config"])  # noqa: E731
    behaviour_cloning(model, make_env, 2000, rounds=1, epochs=10, learning_rate=3e-3, seed=0)
    with torch.no_grad():
        after = imitation_loss(model.policy, *held_out_batch).item()
    assert after < 0.7 * before
    if algo == "dqn":  # the target network starts equal to the cloned one
        for a, b in zip(model.policy.q_net.parameters(), model.policy.q_net_target.parameters(), strict=True):
            assert torch.equal(a, b)


def test_anchor_keeps_imitating_between_ppo_updates_and_is_refused_for_dqn(tmp_path, monkeypatch):
    from stable_baselines3 import DQN

    from facebox.agents import exploration
    from facebox.agents.exploration import BehaviourCloning
    from facebox.agents.train import DQNEncoderPolicy

    venv = make_venv(ENV_ID, 1, 0, TINY_ENV)
    model = _tiny_ppo(venv)
    bc = BehaviourCloning(
        steps=300,
        rounds=1,
        epochs=1,
        anchor=1.0,
        anchor_batches=2,
        anchor_decay=0.5,
        torch_threads=2,
        mirror=True,
        verbose=0,
    )
    seen = []
    cloning = exploration.behaviour_cloning
    monkeypatch.setattr(
        exploration, "behaviour_cloning", lambda *a, **k: seen.append(torch.get_num_threads()) or cloning(*a, **k)
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model.learn(192, callback=bc)
        assert seen == [2] and torch.get_num_threads() == 1  # the warm start's threads are given back for RL
    finally:
        torch.set_num_threads(threads)
    assert list(bc.imitation.mirror.actions[:2]) == [1, 0]  # cloned on mirrored minibatches too
    assert bc._rollouts == 3  # 192 steps of 64-step rollouts
    assert bc.imitation.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.25)  # the third rollout's scale
    dqn = DQN(DQNEncoderPolicy, venv, policy_kwargs=TINY_ENCODER, buffer_size=100, seed=0)
    with pytest.raises(ValueError, match="on-policy"):
        dqn.learn(10, callback=BehaviourCloning(steps=10, anchor=1.0))


def test_freeze_keeps_the_warm_encoder_fixed_during_rl_also_after_a_resume():
    from facebox.agents.exploration import BehaviourCloning

    venv = make_venv(ENV_ID, 1, 0, TINY_ENV)
    model = _tiny_ppo(venv)
    extractor, head = model.policy.features_extractor, model.policy.action_net
    model.learn(64, callback=BehaviourCloning(steps=100, rounds=1, epochs=1, freeze=True, verbose=0))
    assert not any(p.requires_grad for p in extractor.parameters())
    model.policy.requires_grad_(True)  # as after loading a saved model
    encoder = [p.clone() for p in extractor.parameters()]
    actor = [p.clone() for p in head.parameters()]
    model.learn(128, callback=BehaviourCloning(steps=100, freeze=True, verbose=0), reset_num_timesteps=False)
    assert all(torch.equal(a, b) for a, b in zip(encoder, extractor.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(actor, head.parameters(), strict=True))  # RL still learns
    venv.close()


# -- RL Zoo --------------------------------------------------------------------------------------------------


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


def test_demo_trains_the_seed_and_warm_start_it_is_given_and_compares_on_held_out_images(tmp_path, monkeypatch):
    from facebox.agents import train as train_module

    calls = []

    def tiny_train(algo, *, seed, bc_steps, runs_dir, command):
        calls.append((algo, seed, bc_steps))
        return _tiny_train(Path(runs_dir), algo, seed=seed, bc_steps=bc_steps)

    monkeypatch.setattr(train_module, "train", tiny_train)
    argv = ["--runs-dir", str(tmp_path), "--episodes", "3", "--seed", "3", "--bc-steps", "0"]
    rows = train_module.demo_main(argv)
    assert calls == [("ppo", 3, 0)]
    assert [(r["policy"], r["episodes"]) for r in rows] == [("agent", 3), ("greedy oracle", 3), ("random", 3)]
    assert rows[1]["success@0.5"] == 1.0  # the oracle on the held-out images
    (run_dir,) = tmp_path.iterdir()
    assert "__s3__" in run_dir.name and (run_dir / "eval" / "episodes.gif").is_file()


def test_cli_lists_commands_and_rejects_unknown_ones(capsys):
    from facebox.agents import cli

    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("train", "evaluate", "demo"))
    assert cli.main(["trian"]) == 2
    assert "unknown command 'trian'" in capsys.readouterr().err
