"""Spatial soft-argmax: positions and features of the strongest responses, whatever the map size."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from facebox.perception.backbones import SpatialSoftmax  # noqa: E402


def test_spatial_softmax_reads_the_position_of_the_strongest_response():
    # One channel, hot at row 1, column 5 of a 7x7 map: a large score weight puts all attention there, so the
    # expected position is that cell's coordinate on the -1..1 grid and the pooled feature its value.
    layer = SpatialSoftmax(channels=1, keypoints=2)
    with torch.no_grad():
        layer.score.weight[:] = torch.tensor([[[[50.0]]], [[[-50.0]]]])
        layer.score.bias.zero_()
    x = torch.zeros(1, 1, 7, 7)
    x[0, 0, 1, 5] = 1.0
    out = layer(x).view(2, 3)  # per keypoint: x, y, pooled feature
    assert torch.allclose(out[0], torch.tensor([-1 + 2 * 5 / 6, -1 + 2 * 1 / 6, 1.0]), atol=1e-4)
    # the second keypoint avoids the hot cell: attention spread over the other 48 cells, centred near (0, 0)
    assert out[1, 2] < 1e-3 and out[1, :2].abs().max() < 0.05


def test_a_uniform_map_gives_the_centre_and_the_mean_feature():
    layer = SpatialSoftmax(channels=3, keypoints=2)
    x = torch.tensor([0.5, -1.0, 2.0]).view(1, 3, 1, 1).expand(1, 3, 6, 9)  # same scores everywhere
    out = layer(x).view(2, 5)
    torch.testing.assert_close(out[:, :2], torch.zeros(2, 2), atol=1e-6, rtol=0)
    torch.testing.assert_close(out[:, 2:], torch.tensor([[0.5, -1.0, 2.0]] * 2))


@pytest.mark.parametrize(("h", "w"), [(5, 5), (9, 13), (1, 4)])
def test_output_size_is_independent_of_the_map_size_and_gradients_flow(h, w):
    torch.manual_seed(0)
    layer = SpatialSoftmax(channels=4, keypoints=3)
    x = torch.rand(2, 4, h, w, requires_grad=True)
    out = layer(x)
    assert out.shape == (2, 3 * (2 + 4)) and torch.isfinite(out).all()
    out.square().sum().backward()
    assert x.grad.abs().sum() > 0 and layer.score.weight.grad.abs().sum() > 0
