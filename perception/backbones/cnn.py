"""The course CNN, the image backbone of the default agents (and its depthwise-separable variant)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from facebox.perception.backbones.spatial_softmax import SpatialSoftmax

__all__ = ["Shape", "CourseCNN"]

Shape = tuple[int, int, int]  # C, H, W


class CourseCNN(nn.Module):
    """The course CNN: conv 5×5 + ReLU + max-pool 2, then two conv 3×3 + ReLU + max-pool 2 stages, then FC.

    Padding is 1 on every conv (as the course gives for the 5×5, and kept for the 3×3s so they preserve the
    size and only the pools halve it). ``separable`` makes stages 2 and 3 depthwise-separable (a 3×3 per
    channel, then a 1×1 mixing channels, with no activation in between, as in Xception): about 8× fewer
    multiply-adds in those stages. ``stride`` strides the first conv: the full-resolution 5×5 dominates the
    cost, and a stride of 2 cuts it 4×. The flatten size comes from a dummy forward, so any input size works
    that survives the three pools.

    Two choices make it faster on CPU without changing the function it computes: each max-pool comes before its
    ReLU (the two commute, since ReLU is monotone, and the ReLU and its backward then touch a quarter of the
    values), and the input is laid out channels-last, where this torch's CPU max-pool is far faster than on NCHW
    (measurements: docs/experiments.md, section 5.5).

    ``keypoints`` > 0 replaces the last pool, flatten and FC input by :class:`SpatialSoftmax` over the last conv
    map: for a box-moving agent *where* the face is matters more than *what* is there, and reading positions off
    attention maps learns that far faster than a flattened FC (measurements: docs/experiments.md, section 4.1).
    """

    def __init__(
        self,
        shape: Shape,
        channels: Sequence[int] = (32, 64, 128),
        fc: int = 500,
        stride: int = 1,
        keypoints: int = 0,
        *,
        separable: bool,
    ) -> None:
        super().__init__()
        if len(channels) != 3:
            raise ValueError(f"channels must give the 3 conv widths, got {tuple(channels)}")
        if keypoints < 0:
            raise ValueError(f"keypoints must be >= 0 (0 = the course's flatten + FC), got {keypoints}")
        c1, c2, c3 = (int(c) for c in channels)
        layers = [
            ("conv1", nn.Conv2d(shape[0], c1, 5, stride, padding=1)),
            ("pool1", nn.MaxPool2d(2)),
            ("relu1", nn.ReLU()),
        ]
        for i, (c_in, c_out) in enumerate(((c1, c2), (c2, c3)), start=2):
            if separable:
                layers += [
                    (f"conv{i}_dw", nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in)),
                    (f"conv{i}_pw", nn.Conv2d(c_in, c_out, 1)),
                ]
            else:
                layers.append((f"conv{i}", nn.Conv2d(c_in, c_out, 3, padding=1)))
            if keypoints and i == 3:  # the attention reads the last conv map instead of pooling it
                layers += [(f"relu{i}", nn.ReLU()), ("keypoints", SpatialSoftmax(c3, keypoints))]
            else:
                layers += [(f"pool{i}", nn.MaxPool2d(2)), (f"relu{i}", nn.ReLU())]
        if not keypoints:
            layers.append(("flatten", nn.Flatten()))
        self.convs = nn.Sequential(OrderedDict(layers))
        flat = _probe(self.convs, shape, "cnn")
        self.head = nn.Sequential(OrderedDict(fc=nn.Linear(flat, fc), relu=nn.ReLU()))
        self.features_dim = fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(x.contiguous(memory_format=torch.channels_last)))


def _probe(module: nn.Module, shape: Shape, name: str) -> int:
    """Output width of ``module`` on one zero image; a too-small input becomes an error that names it."""
    try:
        with torch.no_grad():
            return module(torch.zeros(1, *shape)).shape[1]
    except RuntimeError as error:
        raise ValueError(f"{name} cannot encode a {shape[1]}x{shape[2]}x{shape[0]} image: {error}") from None
