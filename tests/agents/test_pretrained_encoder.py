"""The ``pretrained`` encoder: a perception checkpoint's backbone as the agents' feature extractor, frozen or
fine-tuned, through PPO and DQN, SB3's save/load and the YAML route."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

import torch  # noqa: E402
from gymnasium import spaces  # noqa: E402
from stable_baselines3 import DQN, PPO  # noqa: E402

import facebox  # noqa: E402, F401  (registers the environments)
from facebox.agents.encoders import ENCODERS, SCRATCH_ENCODERS, PretrainedExtractor, encoder_policy_kwargs  # noqa: E402
from facebox.agents.hyperparams import load_hyperparams  # noqa: E402
from facebox.agents.models import build_model, make_venv  # noqa: E402
from facebox.config import ConfigError  # noqa: E402
from facebox.perception.backbones import build_backbone  # noqa: E402
from facebox.perception.checkpoints import CheckpointError, save_checkpoint  # noqa: E402

ENV_ID = "facebox/FaceLocalization-v0"
SIZE = 32  # the env's glimpse side; the checkpoint is written at 3 x SIZE x SIZE
RESNET = {"channels": [8, 16, 32, 64], "features": 32}
HISTORY = 90  # 10 one-hot actions of 9

# Per algorithm: the tiny settings and where its policy keeps the encoder and the head.
ALGOS = {
    "ppo": (
        PPO,
        {"n_steps": 32, "batch_size": 16, "n_epochs": 1},
        lambda policy: policy.features_extractor,
        lambda policy: policy.action_net,
    ),
    "dqn": (
        DQN,
        {"buffer_size": 100, "learning_starts": 16, "batch_size": 16},
        lambda policy: policy.q_net.features_extractor,
        lambda policy: policy.q_net.q_net,
    ),
}


def _write_checkpoint(path, shape=(3, SIZE, SIZE)):
    torch.manual_seed(0)
    backbone = build_backbone("resnet", shape, RESNET)
    for module in backbone.modules():  # stored statistics unlike a fresh BatchNorm's, as after training
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 2.0)
    payload = {
        "backbone": {"name": "resnet", "kwargs": RESNET, "state_dict": backbone.state_dict()},
        "input": {"shape": list(shape), "mean": [0.5, 0.4, 0.3], "std": [0.25, 0.25, 0.25], "context": 0.1},
        "objective": {"name": "arcface", "kwargs": {}, "state_dict": {}, "identities": 0},
        "config": {},
        "step": 0,
    }
    return str(save_checkpoint(path, payload))


@pytest.fixture
def checkpoint(tmp_path):
    return _write_checkpoint(tmp_path / "backbone.pt")


def _env(size: int = SIZE) -> gym.Env:
    return gym.make(ENV_ID, config={"observation": {"size": size}})


def _model(algo: str, checkpoint: str, freeze: bool):
    algo_cls, settings, _, _ = ALGOS[algo]
    kwargs = encoder_policy_kwargs("pretrained", checkpoint=checkpoint, freeze=freeze)
    return algo_cls("MultiInputPolicy", _env(), seed=0, device="cpu", policy_kwargs=kwargs, **settings)


def _backbone(extractor):
    (network,) = extractor.networks.values()
    return network


def _state(module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _image(shape):
    return spaces.Box(0, 255, shape, np.uint8)


def test_features_are_the_checkpoints_backbone_on_the_scaled_glimpse(checkpoint):
    space = spaces.Dict({"glimpse": _image((SIZE, SIZE, 3)), "history": spaces.Box(0.0, 1.0, (HISTORY,))})
    extractor = PretrainedExtractor(space, checkpoint)
    assert extractor.features_dim == RESNET["features"] + HISTORY
    space.seed(0)
    batch = {k: torch.as_tensor(np.stack([space[k].sample() for _ in range(2)])) for k in space.spaces}
    glimpse = batch["glimpse"].permute(0, 3, 1, 2).float() / 255.0
    backbone = _backbone(extractor)
    expected = backbone.backbone((glimpse - backbone.mean) / backbone.std)
    torch.testing.assert_close(extractor(batch), torch.cat([expected, batch["history"]], dim=1))


def test_glimpse_and_template_share_the_one_backbone(checkpoint):
    space = spaces.Dict({"glimpse": _image((3, SIZE, SIZE)), "template": _image((SIZE, SIZE, 3))})
    extractor = PretrainedExtractor(space, checkpoint)
    assert list(extractor.networks) == ["glimpse"]
    assert extractor.features_dim == 2 * RESNET["features"]


@pytest.mark.parametrize(("shape", "seen"), [((16, 16, 3), "3x16x16"), ((SIZE, SIZE, 4), f"4x{SIZE}x{SIZE}")])
def test_an_observation_of_another_shape_names_key_checkpoint_and_both_shapes(checkpoint, shape, seen):
    space = spaces.Dict({"glimpse": _image((SIZE, SIZE, 3)), "image": _image(shape)})
    with pytest.raises(ConfigError) as error:
        PretrainedExtractor(space, checkpoint)
    message = str(error.value)
    for part in ("encoder_kwargs.checkpoint", checkpoint, f"3x{SIZE}x{SIZE}", seen, "'image'", "observation.size"):
        assert part in message


def test_a_missing_or_unreadable_checkpoint_is_named_when_the_model_is_built(tmp_path):
    missing = str(tmp_path / "missing.pt")
    kwargs = encoder_policy_kwargs("pretrained", checkpoint=missing)  # the options are fine; the file is read later
    with pytest.raises(CheckpointError, match="missing.pt: no such perception checkpoint"):
        PPO("MultiInputPolicy", _env(), policy_kwargs=kwargs, device="cpu")
    garbage = tmp_path / "garbage.pt"
    garbage.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="garbage.pt: not a readable perception checkpoint"):
        PretrainedExtractor(_env().observation_space, str(garbage))


def test_the_checkpoint_is_a_required_option_checked_early():
    with pytest.raises(ConfigError, match=r"encoder 'pretrained' needs option\(s\) \['checkpoint'\]"):
        encoder_policy_kwargs("pretrained", freeze=True)
    with pytest.raises(ConfigError, match=r"\['fc'\].*'checkpoint', 'freeze'"):
        encoder_policy_kwargs("pretrained", checkpoint="x.pt", fc=64)


def test_registered_but_not_among_the_encoders_built_from_scratch():
    assert ENCODERS["pretrained"] is PretrainedExtractor
    assert "pretrained" not in SCRATCH_ENCODERS and set(SCRATCH_ENCODERS) == set(ENCODERS) - {"pretrained"}


def test_a_frozen_backbone_stays_in_eval_mode_when_sb3_trains_the_policy(checkpoint):
    model = _model("ppo", checkpoint, freeze=True)
    model.policy.set_training_mode(True)
    backbone = _backbone(model.policy.features_extractor)
    assert model.policy.training and backbone.frozen
    assert not any(m.training for m in backbone.modules())
    assert not any(p.requires_grad for p in backbone.parameters())
    assert all(p.requires_grad for p in model.policy.action_net.parameters())


def test_freezing_after_the_warm_start_also_stops_a_fine_tuned_backbones_batchnorm(checkpoint):
    from facebox.agents.imitation import freeze_encoders

    model = _model("ppo", checkpoint, freeze=False)
    model.policy.set_training_mode(True)
    backbone = _backbone(model.policy.features_extractor)
    assert backbone.training  # fine-tuned: BatchNorm trains with the policy
    freeze_encoders(model.policy)  # what the warm start's freeze: true does
    model.policy.set_training_mode(True)
    assert backbone.frozen and not any(m.training for m in backbone.modules())
    assert not any(p.requires_grad for p in backbone.parameters())


@pytest.mark.parametrize("algo", sorted(ALGOS))
@pytest.mark.parametrize("freeze", [True, False], ids=["frozen", "fine-tuned"])
def test_learning_leaves_a_frozen_backbone_bit_identical_and_fine_tunes_an_unfrozen_one(checkpoint, algo, freeze):
    _, _, extractor_of, head_of = ALGOS[algo]
    model = _model(algo, checkpoint, freeze)
    backbone, head = _backbone(extractor_of(model.policy)), head_of(model.policy)
    weights_before, head_before = _state(backbone), _state(head)
    model.learn(64)
    weights_after = _state(backbone)
    assert any(not torch.equal(head_before[k], v) for k, v in _state(head).items())
    statistics = [k for k in weights_before if "running_" in k]
    parameters = [k for k, _ in backbone.named_parameters()]
    assert statistics and parameters
    if freeze:
        assert all(torch.equal(weights_before[k], weights_after[k]) for k in weights_before)
    else:
        assert any(not torch.equal(weights_before[k], weights_after[k]) for k in parameters)
        assert any(not torch.equal(weights_before[k], weights_after[k]) for k in statistics)


def test_save_and_load_restore_the_fine_tuned_backbone_and_need_the_checkpoint_file(tmp_path, checkpoint):
    model = _model("ppo", checkpoint, freeze=False)
    model.learn(64)
    model.save(tmp_path / "model.zip")
    loaded = PPO.load(tmp_path / "model.zip", device="cpu")
    # the fine-tuned weights come from the zip, not from the checkpoint the backbone was rebuilt from
    saved, restored = model.policy.state_dict(), loaded.policy.state_dict()
    assert saved.keys() == restored.keys() and all(torch.equal(saved[k], restored[k]) for k in saved)
    env = _env()
    for seed in range(8):
        obs, _ = env.reset(seed=seed)
        assert model.predict(obs, deterministic=True)[0] == loaded.predict(obs, deterministic=True)[0]
    (tmp_path / "backbone.pt").unlink()
    with pytest.raises(CheckpointError, match="backbone.pt: no such perception checkpoint"):
        PPO.load(tmp_path / "model.zip", device="cpu")


def test_the_yaml_route_builds_a_frozen_pretrained_ppo(tmp_path, checkpoint):
    conf = tmp_path / "ppo.yml"
    conf.write_text(
        f"default:\n"
        f"  n_timesteps: 64\n"
        f"  policy: facebox.agents.policies.PPOEncoderPolicy\n"
        f"  n_steps: 32\n"
        f"  batch_size: 16\n"
        f"  policy_kwargs:\n"
        f"    encoder: pretrained\n"
        f"    encoder_kwargs: {{checkpoint: {checkpoint}, freeze: true}}\n"
        f"    net_arch: []\n"
        f"  env_kwargs:\n"
        f"    config:\n"
        f"      observation: {{size: {SIZE}}}\n"
    )
    hp = load_hyperparams("ppo", ENV_ID, path=conf)
    venv = make_venv(ENV_ID, 1, 0, hp["env_kwargs"])
    try:
        extractor = build_model("ppo", hp, venv, seed=0).policy.features_extractor
    finally:
        venv.close()
    assert isinstance(extractor, PretrainedExtractor) and _backbone(extractor).frozen


def test_the_command_line_route_swaps_in_pretrained_with_only_the_given_options(checkpoint):
    """``--encoder pretrained --hyperparams policy_kwargs.encoder_kwargs.checkpoint=PATH``: the YAML's CNN options
    must not be merged into the pretrained encoder's, and a missing checkpoint is named before anything is built."""
    given = {"policy_kwargs": {"encoder_kwargs": {"checkpoint": str(checkpoint)}}}
    hp = load_hyperparams("ppo", ENV_ID, overrides=given, encoder="pretrained")
    assert hp["policy_kwargs"]["encoder"] == "pretrained"
    assert hp["policy_kwargs"]["encoder_kwargs"] == {"checkpoint": str(checkpoint)}
    assert hp["policy_kwargs"]["net_arch"] == load_hyperparams("ppo", ENV_ID)["policy_kwargs"]["net_arch"]
    with pytest.raises(ConfigError, match=r"encoder 'pretrained' needs option\(s\) \['checkpoint'\]"):
        load_hyperparams("ppo", ENV_ID, encoder="pretrained")
