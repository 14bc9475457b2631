"""Encoders: shapes on every facebox observation layout, channel order, pixel scale, gradients, SB3 use."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

import torch  # noqa: E402
from gymnasium import spaces  # noqa: E402
from stable_baselines3 import DQN, PPO  # noqa: E402

import facebox  # noqa: E402, F401  (registers the environments)
from facebox.agents.encoders import ENCODERS, SCRATCH_ENCODERS, encoder_policy_kwargs  # noqa: E402
from facebox.config import ConfigError  # noqa: E402
from facebox.perception import backbones  # noqa: E402

ENV_ID = "facebox/FaceLocalization-v0"
HISTORY = 90  # 10 one-hot actions of 9


def _image(shape: tuple[int, ...]) -> spaces.Box:
    return spaces.Box(0, 255, shape, np.uint8)


def _history() -> spaces.Box:
    return spaces.Box(0.0, 1.0, (HISTORY,), np.float32)


def _build(name: str, space: spaces.Dict, **options):
    kwargs = encoder_policy_kwargs(name, **options)
    return kwargs["features_extractor_class"](space, **kwargs["features_extractor_kwargs"])


def _batch(space: spaces.Dict, n: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    space.seed(seed)
    return {k: torch.as_tensor(np.stack([space[k].sample() for _ in range(n)])) for k in space.spaces}


def _image_features(extractor, key: str) -> int:
    name, _ = extractor.image_keys[key]
    return extractor.networks[name].features_dim


@pytest.mark.parametrize("name", sorted(SCRATCH_ENCODERS))
@pytest.mark.parametrize("size", [32, 64])
def test_glimpse_env_output_is_features_dim(name, size):
    env = gym.make(ENV_ID, config={"observation": {"size": size}})
    extractor = _build(name, env.observation_space)
    obs, _ = env.reset(seed=0)
    out = extractor({k: torch.as_tensor(v)[None] for k, v in obs.items()})
    assert out.shape == (1, extractor.features_dim)
    assert extractor.features_dim == _image_features(extractor, "glimpse") + HISTORY


@pytest.mark.parametrize("name", sorted(SCRATCH_ENCODERS))
def test_image_mask_four_channels(name):
    env = gym.make(ENV_ID, config={"observation": {"type": "image_mask", "size": 32}})
    assert env.observation_space["image"].shape == (32, 32, 4)
    extractor = _build(name, env.observation_space)
    obs, _ = env.reset(seed=0)
    assert extractor({k: torch.as_tensor(v)[None] for k, v in obs.items()}).shape == (1, extractor.features_dim)


@pytest.mark.parametrize("name", sorted(SCRATCH_ENCODERS))
def test_tracking_dict_shares_one_network_between_glimpse_and_template(name):
    space = spaces.Dict({"glimpse": _image((32, 32, 3)), "template": _image((32, 32, 3)), "history": _history()})
    extractor = _build(name, space)
    assert list(extractor.networks) == ["glimpse"]
    assert extractor.features_dim == 2 * _image_features(extractor, "glimpse") + HISTORY
    batch = _batch(space)
    out = extractor(batch)
    assert out.shape == (2, extractor.features_dim)
    # The template's slice reacts to the template and the glimpse's does not.
    d = _image_features(extractor, "glimpse")
    batch["template"] = 255 - batch["template"]
    changed = extractor(batch)
    torch.testing.assert_close(changed[:, :d], out[:, :d])
    assert not torch.allclose(changed[:, d : 2 * d], out[:, d : 2 * d])


def test_images_of_different_shapes_get_their_own_networks():
    space = spaces.Dict({"glimpse": _image((32, 32, 3)), "image": _image((32, 32, 4))})
    assert sorted(_build("cnn", space).networks) == ["glimpse", "image"]


@pytest.mark.parametrize("name", sorted(SCRATCH_ENCODERS))
def test_channel_last_and_channel_first_spaces_give_the_same_features(name):
    """SB3's VecTransposeImage hands the extractor CxHxW; a raw env gives HxWxC: same weights, same output."""
    hwc = spaces.Dict({"glimpse": _image((32, 32, 3)), "history": _history()})
    chw = spaces.Dict({"glimpse": _image((3, 32, 32)), "history": _history()})
    a, b = _build(name, hwc), _build(name, chw)
    b.load_state_dict(a.state_dict())
    batch = _batch(hwc)
    transposed = {**batch, "glimpse": batch["glimpse"].permute(0, 3, 1, 2)}
    torch.testing.assert_close(a(batch), b(transposed))


@pytest.mark.parametrize("name", sorted(SCRATCH_ENCODERS))
def test_pixels_are_divided_by_255_exactly_once(name):
    """SB3 passes floats already divided by 255; a raw uint8 tensor is divided inside: the results agree."""
    space = spaces.Dict({"glimpse": _image((32, 32, 3)), "history": _history()})
    extractor = _build(name, space)
    batch = _batch(space)
    scaled = {**batch, "glimpse": batch["glimpse"].float() / 255.0}
    torch.testing.assert_close(extractor(batch), extractor(scaled))
    unscaled = {**batch, "glimpse": batch["glimpse"].float()}
    assert not torch.allclose(extractor(batch), extractor(unscaled))


@pytest.mark.parametrize("name", sorted(SCRATCH_ENCODERS))
def test_gradient_reaches_every_parameter(name):
    space = spaces.Dict({"glimpse": _image((32, 32, 3)), "history": _history()})
    extractor = _build(name, space)
    extractor(_batch(space, n=4)).square().sum().backward()
    for pname, parameter in extractor.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, pname


def test_unknown_encoder_lists_the_valid_names():
    with pytest.raises(ConfigError, match=r"encoder 'resnet'.*\['cnn', 'dwsep', 'linear_vit', 'pretrained', 'vit'\]"):
        encoder_policy_kwargs("resnet")


def test_unknown_option_is_named_with_the_valid_ones():
    with pytest.raises(ConfigError, match=r"\['widht'\].*'width'"):
        encoder_policy_kwargs("vit", widht=32)
    with pytest.raises(ConfigError, match="'fc'"):
        encoder_policy_kwargs("dwsep", patch=4)


def test_options_reach_the_network():
    space = spaces.Dict({"glimpse": _image((32, 32, 3))})
    cnn = _build("cnn", space, channels=(8, 16, 24), fc=40, stride=2)
    assert cnn.features_dim == 40
    assert cnn.networks["glimpse"].convs.conv1.stride == (2, 2)
    assert cnn.networks["glimpse"].convs.conv3.out_channels == 24
    vit = _build("vit", space, patch=4, depth=3, heads=2, width=32, pool="mean")
    assert vit.features_dim == 32
    assert len(vit.networks["glimpse"].blocks.layers) == 3
    assert vit.networks["glimpse"].position.shape == (64, 32)  # (32 / 4)² patches


def test_each_encoder_wraps_its_backbone():
    space = spaces.Dict({"glimpse": _image((64, 64, 3))})
    cnn = _build("cnn", space, keypoints=6).networks["glimpse"]
    assert isinstance(cnn, backbones.CourseCNN) and isinstance(cnn.convs.keypoints, backbones.SpatialSoftmax)
    assert hasattr(_build("dwsep", space).networks["glimpse"].convs, "conv2_dw")
    assert isinstance(_build("vit", space).networks["glimpse"], backbones.PatchTransformer)


@pytest.mark.parametrize(
    ("name", "options", "space", "error", "match"),
    [
        # the backbones' own checks (tests/perception/backbones) reach the caller through the extractor
        ("cnn", {}, spaces.Dict({"glimpse": _image((8, 8, 3))}), ValueError, "8x8x3"),
        ("vit", {"patch": 5}, spaces.Dict({"glimpse": _image((32, 32, 3))}), ValueError, "patch size 5"),
        ("cnn", {}, spaces.Dict({"history": _history()}), ValueError, "no uint8"),
        ("cnn", {}, _image((32, 32, 3)), TypeError, "spaces.Dict"),
    ],
)
def test_bad_configuration_is_a_clear_error(name, options, space, error, match):
    with pytest.raises(error, match=match):
        _build(name, space, **options)


# Per algorithm: the tiny settings, the steps to learn and where its policy keeps the encoder.
ALGO_SETTINGS = {
    "ppo": (PPO, {"n_steps": 128, "batch_size": 64, "n_epochs": 1}, 256, lambda policy: policy.features_extractor),
    "dqn": (
        DQN,
        {"buffer_size": 1000, "learning_starts": 64, "batch_size": 32, "train_freq": 4},
        160,
        lambda policy: policy.q_net.features_extractor,
    ),
}


@pytest.mark.parametrize("algo", sorted(ALGO_SETTINGS))
@pytest.mark.parametrize("name", sorted(SCRATCH_ENCODERS))
def test_the_algorithms_train_the_encoder(algo, name):
    algo_cls, settings, steps, extractor_of = ALGO_SETTINGS[algo]
    env = gym.make(ENV_ID, config={"observation": {"size": 32}})
    options = {"width": 32} if name.endswith("vit") else {"fc": 64}
    model = algo_cls("MultiInputPolicy", env, seed=0, policy_kwargs=encoder_policy_kwargs(name, **options), **settings)
    extractor = extractor_of(model.policy)
    assert isinstance(extractor, ENCODERS[name])
    before = [p.detach().clone() for p in extractor.parameters()]
    model.learn(steps)
    assert any(not torch.equal(b, a) for b, a in zip(before, extractor.parameters(), strict=True))
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(int(action))
