"""The small ViT: its fixed 2-D position code, its pooling and its input checks."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from facebox.perception.backbones import PatchTransformer, sincos_2d  # noqa: E402


def test_every_patch_gets_its_own_position_code_and_neighbours_similar_ones():
    codes = sincos_2d(4, 4, 8)
    assert codes.shape == (16, 8) and len(torch.unique(codes, dim=0)) == 16
    distance = torch.cdist(codes, codes)
    assert distance[0, 1] < distance[0, 3] and distance[0, 4] < distance[0, 12]  # nearer patches, nearer codes
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_2d(2, 2, 6)


def test_the_position_code_is_fixed_sinusoidal_and_not_a_parameter():
    network = PatchTransformer((3, 32, 32), patch=8, width=8)
    assert "position" in dict(network.named_buffers())
    assert all("position" not in name for name, _ in network.named_parameters())
    assert all("position" not in name for name in network.state_dict())
    # width 8: a quarter = 2 frequencies, 1 and 1/10000^(1/2) = 0.01; per patch [sin y, cos y, sin x, cos x].
    f = np.array([1.0, 0.01])
    row, col = 2, 3  # patch 11 of the 4x4 grid, row-major
    expected = np.concatenate([np.sin(row * f), np.cos(row * f), np.sin(col * f), np.cos(col * f)])
    np.testing.assert_allclose(network.position[4 * row + col].numpy(), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_the_output_is_one_vector_per_image_and_gradients_reach_every_parameter(pool):
    torch.manual_seed(0)
    net = PatchTransformer((3, 32, 32), patch=8, depth=1, heads=2, width=16, pool=pool)
    x = torch.rand(3, 3, 32, 32)
    out = net(x)
    assert out.shape == (3, net.features_dim) == (3, 16) and torch.isfinite(out).all()
    out.square().sum().backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    torch.testing.assert_close(net(x[:1]), out[:1].detach())  # images are encoded independently


def test_only_the_cls_pool_owns_a_cls_token():
    assert PatchTransformer((3, 16, 16), patch=8, width=16, pool="cls").cls.shape == (1, 1, 16)
    assert PatchTransformer((3, 16, 16), patch=8, width=16, pool="mean").cls is None


def test_the_position_code_makes_the_output_depend_on_where_a_patch_is():
    # Swapping two patches leaves a bag of patch embeddings unchanged; the added positions must tell them apart.
    torch.manual_seed(0)
    net = PatchTransformer((3, 16, 16), patch=8, depth=1, heads=2, width=16, pool="mean")
    x = torch.rand(1, 3, 16, 16)
    swapped = x.clone()
    swapped[..., :8, :8], swapped[..., :8, 8:] = x[..., :8, 8:], x[..., :8, :8]
    assert not torch.allclose(net(x), net(swapped))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"patch": 5}, "patch size 5"),
        ({"width": 30, "heads": 4}, "divisible by heads"),
        ({"width": 30, "heads": 3}, "divisible by 4"),
        ({"pool": "max"}, "'cls', 'mean'"),
    ],
)
def test_bad_configuration_is_a_clear_error(options, match):
    with pytest.raises(ValueError, match=match):
        PatchTransformer((3, 32, 32), **options)
