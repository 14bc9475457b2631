"""The course CNN: the function the course defines, computed faster."""

from __future__ import annotations

import pytest
import torch

from facebox.perception.backbones import CourseCNN


@pytest.mark.parametrize("keypoints", [0, 4])
def test_course_cnn_computes_conv_relu_pool_as_the_course_orders_it(keypoints):
    """The CNN pools before its ReLUs, channels-last, for speed: the function must be the course's."""
    from torch.nn import functional as F

    torch.manual_seed(0)
    net = CourseCNN((3, 40, 40), (4, 8, 8), fc=16, keypoints=keypoints, separable=False)
    x = torch.rand(5, 3, 40, 40)
    c = net.convs
    h = F.max_pool2d(F.relu(c.conv1(x)), 2)
    h = F.max_pool2d(F.relu(c.conv2(h)), 2)
    h = F.relu(c.conv3(h))
    h = c.keypoints(h) if keypoints else F.max_pool2d(h, 2).flatten(1)
    torch.testing.assert_close(net(x), net.head(h))
