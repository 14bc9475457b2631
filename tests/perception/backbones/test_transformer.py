"""The small ViT's position code and its pooling."""

from __future__ import annotations

import pytest
import torch

from facebox.perception.backbones import PatchTransformer, sincos_2d


def test_every_patch_gets_its_own_position_code_and_neighbours_similar_ones():
    codes = sincos_2d(4, 4, 8)
    assert codes.shape == (16, 8) and len(torch.unique(codes, dim=0)) == 16
    distance = torch.cdist(codes, codes)
    assert distance[0, 1] < distance[0, 3] and distance[0, 4] < distance[0, 12]  # nearer patches, nearer codes
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_2d(2, 2, 6)


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_the_output_is_one_vector_per_image_and_gradients_reach_the_patches(pool):
    torch.manual_seed(0)
    net = PatchTransformer((3, 32, 32), patch=8, depth=1, heads=2, width=16, pool=pool)
    x = torch.rand(3, 3, 32, 32)
    out = net(x)
    assert out.shape == (3, net.features_dim) and torch.isfinite(out).all()
    out.sum().backward()
    assert net.patchify.weight.grad.abs().sum() > 0
    torch.testing.assert_close(net(x[:1]), out[:1].detach())  # images are encoded independently
