"""The strided trunk: one feature vector per image, per-sample without batch statistics, bad options named."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from facebox.config import ConfigError  # noqa: E402
from facebox.perception.backbones import build_backbone  # noqa: E402


@pytest.mark.parametrize("norm", ["none", "batch", "layer"])
def test_every_norm_gives_features_and_every_parameter_learns(norm):
    torch.manual_seed(0)
    net = build_backbone("strided", (3, 32, 24), {"channels": [4, 8], "features": 16, "norm": norm})
    out = net(torch.rand(3, 3, 32, 24))
    assert out.shape == (3, 16) and torch.isfinite(out).all()
    out.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


@pytest.mark.parametrize("norm", ["none", "layer"])
def test_without_batch_norm_each_image_is_encoded_alone(norm):
    """What WGAN-GP's per-sample gradient penalty needs of its critic."""
    net = build_backbone("strided", (3, 16, 16), {"channels": [4, 8], "norm": norm}).train()
    x = torch.rand(4, 3, 16, 16)
    torch.testing.assert_close(net(x[1:2]), net(x)[1:2])


def test_bad_options_are_named():
    with pytest.raises(ConfigError, match="norm must be one of"):
        build_backbone("strided", (3, 32, 32), {"norm": "instance"})
    with pytest.raises(ConfigError, match="cannot halve a 8x8 image 4 times"):
        build_backbone("strided", (3, 8, 8), {"channels": [4, 4, 4, 4]})
