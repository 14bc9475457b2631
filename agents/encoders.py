"""Feature extractors for facebox's Dict observations, selectable by name for DQN and PPO alike.

Every encoder is an SB3 ``BaseFeaturesExtractor`` over a ``spaces.Dict``: each image key (a ``uint8`` box with
bounds 0..255, e.g. ``glimpse``, ``template``, ``image``) goes through an image network, every other key (e.g.
``history``) is flattened, and the pieces are concatenated. Image keys of the same shape share one network
(siamese): the tracking env's ``glimpse`` and ``template`` are compared, so they must be embedded by the same
function; keys of different shapes get networks of their own.

Pixel scale: SB3's ``preprocess_obs`` already divides image spaces by 255 (``normalize_images=True``, the
default), so a float input is taken as already in [0, 1]; a ``uint8`` tensor passed directly (outside SB3) is
divided here. Either way the division happens exactly once (so leave SB3's ``normalize_images`` on: with it off,
floats in 0..255 would reach the network unscaled).

Channel order: SB3 wraps a channel-last Dict env in ``VecTransposeImage``, so inside a model the extractor sees
CxHxW spaces, while on a raw env's space it sees HxWxC. The order is read from the space it is given (with
SB3's own heuristic, the one ``VecTransposeImage`` uses) and observations are permuted to CHW here if needed.

``pretrained`` is the exception to "built from the observation space": its network is a perception checkpoint's
backbone (:class:`PretrainedExtractor`), so it needs ``checkpoint`` and loops over "every encoder" (benchmarks,
layer tables) should take :data:`SCRATCH_ENCODERS`.

>>> import gymnasium as gym, facebox
>>> from stable_baselines3 import PPO
>>> env = gym.make("facebox/FaceLocalization-v0", config={"observation": {"size": 32}})
>>> model = PPO("MultiInputPolicy", env, policy_kwargs=encoder_policy_kwargs("cnn", fc=256))
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.preprocessing import (
    get_flattened_obs_dim,
    is_image_space,
    is_image_space_channels_first,
)
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from facebox.config import ConfigError, lookup
from facebox.perception.backbones import CourseCNN, PatchTransformer, Shape, SpatialSoftmax, sincos_2d
from facebox.perception.backbones.linear_attention import LinearTransformer
from facebox.perception.checkpoints import load_backbone

__all__ = [
    "ENCODERS",
    "SCRATCH_ENCODERS",
    "encoder_policy_kwargs",
    "DictExtractor",
    "CnnExtractor",
    "DwsepExtractor",
    "VitExtractor",
    "LinearVitExtractor",
    "PretrainedExtractor",
    # the backbones, re-exported: saved models and earlier code name them here
    "CourseCNN",
    "SpatialSoftmax",
    "PatchTransformer",
    "sincos_2d",
]


def _image_shape(space: spaces.Box) -> tuple[Shape, bool]:
    """The CxHxW shape of an image space and whether the space is channel-last (SB3's heuristic)."""
    channels_last = not is_image_space_channels_first(space)
    return tuple(space.shape[i] for i in ((2, 0, 1) if channels_last else (0, 1, 2))), channels_last


class DictExtractor(BaseFeaturesExtractor):
    """Image keys through ``network(shape)`` (one per distinct image shape), other keys flattened, concatenated.

    Subclasses only say which network; the extractor needs a ``spaces.Dict`` (``MultiInputPolicy``).
    """

    def __init__(self, observation_space: spaces.Space, network: Callable[[Shape], nn.Module]) -> None:
        if not isinstance(observation_space, spaces.Dict):
            raise TypeError(
                f"{type(self).__name__} expects a gymnasium.spaces.Dict observation space (MultiInputPolicy), "
                f"got {observation_space}"
            )
        super().__init__(observation_space, features_dim=1)
        self.networks = nn.ModuleDict()
        self.image_keys: dict[str, tuple[str, bool]] = {}  # key -> (network name, channels last)
        self.vector_keys: list[str] = []
        network_for: dict[Shape, str] = {}
        features = 0
        for key, space in observation_space.spaces.items():
            if not is_image_space(space):
                self.vector_keys.append(key)
                features += get_flattened_obs_dim(space)
                continue
            shape, channels_last = _image_shape(space)
            if shape not in network_for:
                network_for[shape] = key
                self.networks[key] = network(shape)
            self.image_keys[key] = (network_for[shape], channels_last)
            features += self.networks[network_for[shape]].features_dim
        if not self.image_keys:
            raise ValueError(f"{type(self).__name__} found no uint8 0..255 image key in {observation_space}")
        self._features_dim = features

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = []
        for key, (network, channels_last) in self.image_keys.items():
            image = observations[key]
            if image.dtype == torch.uint8:
                image = image.float() / 255.0
            if channels_last:
                image = image.permute(0, 3, 1, 2)
            parts.append(self.networks[network](image))
        parts += [observations[key].flatten(1).float() for key in self.vector_keys]
        return torch.cat(parts, dim=1)


class CnnExtractor(DictExtractor):
    """``cnn``: :class:`CourseCNN` on each image; ``channels``, ``fc`` and ``stride`` make smaller variants,
    ``keypoints`` swaps the flatten for a :class:`SpatialSoftmax`.
    """

    separable = False

    def __init__(
        self,
        observation_space: spaces.Space,
        channels: Sequence[int] = (32, 64, 128),
        fc: int = 500,
        stride: int = 1,
        keypoints: int = 0,
    ) -> None:
        super().__init__(
            observation_space,
            lambda shape: CourseCNN(shape, channels, fc, stride, keypoints, separable=self.separable),
        )


class DwsepExtractor(CnnExtractor):
    """``dwsep``: the course CNN with depthwise-separable stages 2 and 3."""

    separable = True


class VitExtractor(DictExtractor):
    """``vit``: :class:`PatchTransformer` on each image."""

    def __init__(
        self,
        observation_space: spaces.Space,
        patch: int = 8,
        depth: int = 2,
        heads: int = 4,
        width: int = 64,
        pool: str = "cls",
    ) -> None:
        super().__init__(observation_space, lambda shape: PatchTransformer(shape, patch, depth, heads, width, pool))


class LinearVitExtractor(DictExtractor):
    """``linear_vit``: :class:`LinearTransformer` on each image, the ViT with linear attention whose cost grows
    with the number of patches rather than its square, for 128-256 px glimpses (same options as ``vit``)."""

    def __init__(
        self,
        observation_space: spaces.Space,
        patch: int = 8,
        depth: int = 2,
        heads: int = 4,
        width: int = 64,
        pool: str = "cls",
    ) -> None:
        super().__init__(observation_space, lambda shape: LinearTransformer(shape, patch, depth, heads, width, pool))


class PretrainedExtractor(DictExtractor):
    """``pretrained``: the backbone of the perception checkpoint at ``checkpoint`` (:func:`load_backbone`, input
    normalisation included) on each image, so an agent starts from features learnt on faces rather than from noise.

    Every image key must be the CxHxW the backbone was trained on: a backbone sees its training crop size or
    nothing meaningful, so a mismatch is a ``ConfigError`` rather than a resize. Keys share the one backbone.
    ``freeze`` (the default) keeps the backbone as trained: no gradients (SB3's optimizer skips it) and eval mode
    even when SB3 switches the policy to training, so its BatchNorm statistics stay the checkpoint's rather than
    drifting towards the agent's glimpses; ``freeze=False`` fine-tunes it with the policy, BatchNorm included.

    Saving and loading: the backbone's weights and BatchNorm statistics (as trained or as fine-tuned) are in the
    policy's state_dict, so in the SB3 zip, but ``policy_kwargs`` record only the checkpoint's path, and
    ``load`` rebuilds the backbone from that file before loading the saved weights over it. So the file must
    still be readable where the model is loaded (else a ``CheckpointError`` naming it); a file since replaced by
    another architecture fails SB3's strict load; one replaced by the same architecture with another input
    ``mean``/``std`` loads with the new ones (they are the checkpoint's, not part of the state_dict).
    """

    def __init__(self, observation_space: spaces.Space, checkpoint: str, freeze: bool = True) -> None:
        backbone = load_backbone(checkpoint, freeze=freeze)
        super().__init__(observation_space, lambda shape: backbone)
        for key in self.image_keys:
            shape = _image_shape(observation_space[key])[0]
            if shape != backbone.shape:
                raise ConfigError(
                    f"encoder_kwargs.checkpoint {checkpoint}: the backbone takes {_chw(backbone.shape)} (CxHxW) "
                    f"images but observation {key!r} is {_chw(shape)}; train the backbone at the observation's size "
                    f"or make the env's match it (env_kwargs.config.observation.size: {backbone.shape[1]})"
                )


def _chw(shape: Shape) -> str:
    return "x".join(map(str, shape))


ENCODERS: dict[str, type[DictExtractor]] = {
    "cnn": CnnExtractor,
    "dwsep": DwsepExtractor,
    "vit": VitExtractor,
    "linear_vit": LinearVitExtractor,
    "pretrained": PretrainedExtractor,
}
# The encoders that need nothing but the observation space (randomly initialised).
SCRATCH_ENCODERS = tuple(name for name in ENCODERS if name != "pretrained")


def encoder_policy_kwargs(name: str, **kwargs: Any) -> dict[str, Any]:
    """SB3 ``policy_kwargs`` selecting encoder ``name`` with its options, checked now rather than at build time
    (unknown and missing required options; the checkpoint file itself is read when the model is built)."""
    cls = lookup(ENCODERS, name, "encoder")
    parameters = inspect.signature(cls.__init__).parameters
    valid = [p for p in parameters if p not in ("self", "observation_space")]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ConfigError(f"unknown option(s) {unknown} for encoder {name!r}; valid options: {valid}")
    missing = [p for p in valid if parameters[p].default is inspect.Parameter.empty and p not in kwargs]
    if missing:
        raise ConfigError(f"encoder {name!r} needs option(s) {missing} (policy_kwargs.encoder_kwargs)")
    return {"features_extractor_class": cls, "features_extractor_kwargs": dict(kwargs)}
