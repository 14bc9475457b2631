"""The linear-attention ViT: the factorised attention equals the explicit N×N form, the backbone's output, gradients
and registry use, a short training run, and the ``linear_vit`` agent encoder inside SB3 policies."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from facebox.config import ConfigError  # noqa: E402
from facebox.perception import backbones  # noqa: E402
from facebox.perception.backbones import PatchTransformer, build_backbone  # noqa: E402
from facebox.perception.backbones.linear_attention import (  # noqa: E402
    LinearAttention,
    LinearBlock,
    LinearTransformer,
    feature_map,
    linear_attention,
)


def explicit_attention(q, k, v, eps=1e-6):
    """The O(N²) form: the N×N similarity matrix φ(Q)φ(K)ᵀ, each row divided by its sum (+ eps), times V."""
    similarity = feature_map(q) @ feature_map(k).transpose(-2, -1)
    return similarity @ v / (similarity.sum(dim=-1, keepdim=True) + eps)


@pytest.mark.parametrize(("n", "d", "d_v"), [(1, 4, 4), (7, 4, 4), (50, 8, 3)])
def test_linear_attention_equals_the_explicit_quadratic_form(n, d, d_v):
    g = torch.Generator().manual_seed(n)
    q, k = (3 * torch.randn(2, 3, n, d, generator=g, dtype=torch.float64) for _ in range(2))
    v = torch.randn(2, 3, n, d_v, generator=g, dtype=torch.float64)
    torch.testing.assert_close(linear_attention(q, k, v), explicit_attention(q, k, v))
    torch.testing.assert_close(linear_attention(q, k, v, eps=0.0), explicit_attention(q, k, v, eps=0.0))


def test_the_feature_map_is_elu_plus_one_and_positive():
    x = torch.tensor([-30.0, -1.0, 0.0, 2.0])
    torch.testing.assert_close(feature_map(x), torch.tensor([np.exp(-30.0), np.exp(-1.0), 1.0, 3.0]).float())
    # positive weights that sum to one: identical values come out unchanged, whatever the queries and keys
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 10, 4, generator=g, dtype=torch.float64), torch.randn(10, 4, generator=g, dtype=torch.float64)
    torch.testing.assert_close(
        linear_attention(q, k, torch.full((10, 2), 5.0, dtype=torch.float64)),
        torch.full((2, 10, 2), 5.0, dtype=torch.float64),
        atol=1e-5,
        rtol=0,
    )


def test_the_multi_head_module_attends_per_head_with_its_projections():
    torch.manual_seed(0)
    attention = LinearAttention(width=8, heads=2).double()
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    q, k, v = attention.qkv(x).chunk(3, dim=-1)
    heads = [explicit_attention(q[..., h : h + 4], k[..., h : h + 4], v[..., h : h + 4]) for h in (0, 4)]
    torch.testing.assert_close(attention(x), attention.out(torch.cat(heads, dim=-1)))


def test_the_block_has_the_plain_layers_parameter_count():
    plain = nn.TransformerEncoderLayer(32, 4, 128, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
    count = sum(p.numel() for p in LinearBlock(32, 4).parameters())
    assert count == sum(p.numel() for p in plain.parameters())


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_128_px_gives_one_vector_per_image_and_gradients_reach_every_parameter(pool):
    torch.manual_seed(0)
    net = LinearTransformer((3, 128, 128), patch=8, depth=2, heads=4, width=32, pool=pool)
    assert net.position.shape == (256, 32)  # (128 / 8)² patches
    x = torch.rand(3, 3, 128, 128)
    out = net(x)
    assert out.shape == (3, net.features_dim) == (3, 32) and torch.isfinite(out).all()
    out.square().sum().backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    torch.testing.assert_close(net(x[1:2]), out[1:2].detach())  # images are encoded independently


def test_it_is_the_plain_vit_but_for_the_attention():
    torch.manual_seed(0)
    plain = PatchTransformer((3, 32, 32), patch=8, width=16, heads=2, depth=3)
    torch.manual_seed(0)
    linear = LinearTransformer((3, 32, 32), patch=8, width=16, heads=2, depth=3)
    torch.testing.assert_close(linear.patchify.weight, plain.patchify.weight)
    torch.testing.assert_close(linear.position, plain.position)
    assert len(linear.blocks) == 3 and all(isinstance(b, LinearBlock) for b in linear.blocks)
    assert sum(p.numel() for p in linear.parameters()) == sum(p.numel() for p in plain.parameters())
    with pytest.raises(ValueError, match="patch size 5"):
        LinearTransformer((3, 32, 32), patch=5)


def test_the_position_code_makes_the_output_depend_on_where_a_patch_is():
    torch.manual_seed(0)
    net = LinearTransformer((3, 16, 16), patch=8, depth=1, heads=2, width=16, pool="mean")
    x = torch.rand(1, 3, 16, 16)
    swapped = x.clone()
    swapped[..., :8, :8], swapped[..., :8, 8:] = x[..., :8, 8:], x[..., :8, :8]
    assert not torch.allclose(net(x), net(swapped))


def test_it_builds_from_the_registry_by_name(monkeypatch):
    monkeypatch.setitem(backbones.BACKBONES, "linear_vit", LinearTransformer)
    net = build_backbone("linear_vit", (3, 64, 64), {"patch": 16, "width": 32, "heads": 2, "pool": "mean"})
    assert isinstance(net, LinearTransformer) and net(torch.rand(2, 3, 64, 64)).shape == (2, 32)
    with pytest.raises(ConfigError, match=r"unknown option\(s\) \['window'\]"):
        build_backbone("linear_vit", (3, 64, 64), {"window": 4})


def test_a_short_training_run_learns_where_a_bright_square_is():
    """Regress the centre of a white 8×8 square on noise, 64 px: only the positions can tell where it is."""
    g = torch.Generator().manual_seed(0)

    def batch(n):
        images = 0.3 * torch.rand(n, 3, 64, 64, generator=g)
        corners = torch.randint(0, 57, (n, 2), generator=g)
        for image, (y, x) in zip(images, corners.tolist(), strict=True):
            image[:, y : y + 8, x : x + 8] = 1.0
        return images, (corners.float() + 4) / 64 - 0.5

    torch.manual_seed(0)
    model = nn.Sequential(LinearTransformer((3, 64, 64), patch=8, depth=1, heads=2, width=32, pool="mean"))
    model.append(nn.Linear(32, 2))
    test_images, test_centres = batch(64)

    def error():
        with torch.no_grad():
            return nn.functional.mse_loss(model(test_images), test_centres).item()

    untrained = error()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(800):  # ~8 s; at 150 steps it still predicts the mean
        images, centres = batch(32)
        loss = nn.functional.mse_loss(model(images), centres)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert error() < 0.25 * min(untrained, test_centres.var(dim=0).sum().item() / 2)


# The agent encoder, as tests/agents/test_encoders.py checks the others.
ENV_ID = "facebox/FaceLocalization-v0"


def _encoder_policy(**options):
    pytest.importorskip("stable_baselines3")
    import facebox  # noqa: F401  (registers the environments)
    from facebox.agents.encoders import ENCODERS, LinearVitExtractor, encoder_policy_kwargs

    assert ENCODERS["linear_vit"] is LinearVitExtractor
    return encoder_policy_kwargs("linear_vit", **options)


def test_the_encoder_wraps_the_backbone_on_a_dict_observation():
    from gymnasium import spaces

    kwargs = _encoder_policy(patch=16, depth=3, heads=2, width=32, pool="mean")
    space = spaces.Dict({"glimpse": spaces.Box(0, 255, (128, 128, 3), np.uint8), "history": spaces.Box(0, 1, (90,))})
    extractor = kwargs["features_extractor_class"](space, **kwargs["features_extractor_kwargs"])
    network = extractor.networks["glimpse"]
    assert isinstance(network, LinearTransformer) and len(network.blocks) == 3 and network.position.shape == (64, 32)
    space.seed(0)
    batch = {k: torch.as_tensor(np.stack([space[k].sample() for _ in range(2)])) for k in space.spaces}
    assert extractor(batch).shape == (2, extractor.features_dim) == (2, 32 + 90)
    with pytest.raises(ConfigError, match="'fc'"):
        _encoder_policy(fc=64)


@pytest.mark.parametrize(("algo", "size"), [("ppo", 128), ("dqn", 32)])
def test_the_algorithms_train_the_encoder(algo, size):
    import gymnasium as gym
    from stable_baselines3 import DQN, PPO

    policy_kwargs = _encoder_policy(patch=16 if size == 128 else 8, width=32)
    env = gym.make(ENV_ID, config={"observation": {"size": size}})
    if algo == "ppo":
        model = PPO("MultiInputPolicy", env, seed=0, policy_kwargs=policy_kwargs, n_steps=64, batch_size=32, n_epochs=1)
        extractor, steps = model.policy.features_extractor, 64
    else:
        settings = {"buffer_size": 1000, "learning_starts": 64, "batch_size": 32, "train_freq": 4}
        model = DQN("MultiInputPolicy", env, seed=0, policy_kwargs=policy_kwargs, **settings)
        extractor, steps = model.policy.q_net.features_extractor, 160
    assert isinstance(extractor.networks["glimpse"], LinearTransformer)
    assert extractor.networks["glimpse"].position.shape[0] == (size // (16 if size == 128 else 8)) ** 2
    before = [p.detach().clone() for p in extractor.parameters()]
    model.learn(steps)
    assert all(not torch.equal(b, a) for b, a in zip(before, extractor.parameters(), strict=True))
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(int(action))
