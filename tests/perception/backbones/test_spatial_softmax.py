"""Spatial soft-argmax: positions and features of the strongest responses."""

from __future__ import annotations

import torch

from facebox.perception.backbones import SpatialSoftmax


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
