"""The course CNN: the function the course defines, computed faster; its sizes, variants and input checks."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch.nn import functional as F  # noqa: E402

from facebox.perception.backbones import CourseCNN, SpatialSoftmax  # noqa: E402


def _net(shape=(3, 40, 40), seed=0, **options):
    torch.manual_seed(seed)
    options = {"channels": (4, 8, 8), "fc": 16, "separable": False, **options}
    return CourseCNN(shape, **options)


@pytest.mark.parametrize("keypoints", [0, 4])
def test_course_cnn_computes_conv_relu_pool_as_the_course_orders_it(keypoints):
    """The CNN pools before its ReLUs, channels-last, for speed: the function must be the course's."""
    net = _net(keypoints=keypoints)
    x = torch.rand(5, 3, 40, 40)
    c = net.convs
    h = F.max_pool2d(F.relu(c.conv1(x)), 2)
    h = F.max_pool2d(F.relu(c.conv2(h)), 2)
    h = F.relu(c.conv3(h))
    h = c.keypoints(h) if keypoints else F.max_pool2d(h, 2).flatten(1)
    torch.testing.assert_close(net(x), net.head(h))


@pytest.mark.parametrize("separable", [False, True])
@pytest.mark.parametrize(
    ("shape", "stride", "keypoints"), [((3, 32, 32), 1, 0), ((4, 48, 40), 2, 0), ((1, 64, 64), 2, 3)]
)
def test_output_is_one_features_dim_vector_per_image_and_every_parameter_learns(separable, shape, stride, keypoints):
    net = _net(shape, stride=stride, keypoints=keypoints, separable=separable)
    x = torch.rand(3, *shape)
    out = net(x)
    assert out.shape == (3, net.features_dim) == (3, 16) and torch.isfinite(out).all()
    torch.testing.assert_close(net(x[1:2]), out[1:2])  # images are encoded independently
    out.square().sum().backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_the_same_seed_builds_the_same_network():
    a, b, c = _net(seed=0), _net(seed=0), _net(seed=1)
    assert list(a.state_dict()) == list(b.state_dict())
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.convs.conv1.weight, c.convs.conv1.weight)


def test_separable_stages_are_a_depthwise_then_a_pointwise_conv():
    net = _net(channels=(8, 16, 24), separable=True)
    assert net.convs.conv2_dw.groups == 8 and net.convs.conv2_pw.kernel_size == (1, 1)
    assert net.convs.conv3_dw.groups == 16 and net.convs.conv3_pw.out_channels == 24
    assert not hasattr(net.convs, "conv2")
    full = _net(channels=(8, 16, 24))
    assert sum(p.numel() for p in net.convs.parameters()) < sum(p.numel() for p in full.convs.parameters())


def test_keypoints_replace_the_last_pool_and_the_flatten():
    net = _net((3, 64, 64), channels=(8, 16, 24), fc=40, stride=2, keypoints=6)
    assert isinstance(net.convs.keypoints, SpatialSoftmax)
    assert not hasattr(net.convs, "pool3") and not hasattr(net.convs, "flatten")
    assert net.head.fc.in_features == 6 * (2 + 24)
    # the FC input no longer depends on the image size
    assert _net((3, 96, 96), channels=(8, 16, 24), keypoints=6).head.fc.in_features == 6 * (2 + 24)
    separable = _net((3, 64, 64), channels=(32, 64, 128), keypoints=4, separable=True)
    assert separable.head.fc.in_features == 4 * (2 + 128)


@pytest.mark.parametrize(
    ("shape", "options", "match"),
    [
        ((3, 8, 8), {}, "cannot encode a 8x8x3 image"),
        ((3, 32, 32), {"channels": (8, 16)}, "3 conv widths"),
        ((3, 32, 32), {"keypoints": -1}, "keypoints must be >= 0"),
    ],
)
def test_bad_configuration_is_a_clear_error(shape, options, match):
    with pytest.raises(ValueError, match=match):
        _net(shape, **options)
