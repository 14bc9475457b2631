"""Image backbones: plain torch modules from a CxHxW shape to a feature vector, shared by the agents' encoders and
perception's pretraining (the SB3 adapter is :mod:`facebox.agents.encoders`).

``BACKBONES`` names each one for configs and checkpoints: a checkpoint stores the name and the keyword arguments,
and :func:`build_backbone` rebuilds the same module from them.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from facebox.config import ConfigError, lookup
from facebox.perception.backbones.cnn import CourseCNN, Shape
from facebox.perception.backbones.linear import LinearEncoder
from facebox.perception.backbones.linear_attention import LinearTransformer
from facebox.perception.backbones.resnet import SmallResNet
from facebox.perception.backbones.spatial_softmax import SpatialSoftmax
from facebox.perception.backbones.strided import StridedCNN
from facebox.perception.backbones.transformer import PatchTransformer, sincos_2d
from facebox.perception.diffusion.unet import UNet  # after cnn: the U-Net module imports its Shape

__all__ = [
    "BACKBONES",
    "build_backbone",
    "Shape",
    "CourseCNN",
    "SmallResNet",
    "SpatialSoftmax",
    "StridedCNN",
    "PatchTransformer",
    "LinearTransformer",
    "LinearEncoder",
    "UNet",
    "sincos_2d",
]

BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "cnn": functools.partial(CourseCNN, separable=False),
    "dwsep": functools.partial(CourseCNN, separable=True),
    "vit": PatchTransformer,
    "resnet": SmallResNet,
    "strided": StridedCNN,
    "linear_vit": LinearTransformer,
    "linear": LinearEncoder,
    "unet": UNet,
}


def build_backbone(name: str, shape: Shape, kwargs: Mapping[str, Any] | None = None) -> nn.Module:
    """``BACKBONES[name](shape, **kwargs)``; an unknown name or option is a ``ConfigError`` naming it."""
    factory = lookup(BACKBONES, name, "backbone")
    kwargs = dict(kwargs or {})
    valid = [p for p in inspect.signature(factory).parameters if p not in ("shape", "separable")]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ConfigError(f"unknown option(s) {unknown} for backbone {name!r}; valid options: {valid}")
    try:
        return factory(tuple(shape), **kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"backbone {name!r} with {kwargs}: {error}") from None
