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

>>> import gymnasium as gym, facebox
>>> from stable_baselines3 import PPO
>>> env = gym.make("facebox/FaceLocalization-v0", config={"observation": {"size": 32}})
>>> model = PPO("MultiInputPolicy", env, policy_kwargs=encoder_policy_kwargs("cnn", fc=256))
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
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

from facebox.config import lookup

__all__ = [
    "ENCODERS",
    "encoder_policy_kwargs",
    "DictExtractor",
    "CnnExtractor",
    "DwsepExtractor",
    "VitExtractor",
    "CourseCNN",
    "SpatialSoftmax",
    "PatchTransformer",
    "sincos_2d",
]

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
    values), and the input is laid out channels-last, where this torch's CPU max-pool is ~10x faster than on NCHW
    (1.6 ms against 15 ms on a 256x16x31x31 batch). Measured on the YAML agents' CNN, 256 glimpses of 64 px, one
    thread: forward ~40 -> ~12 ms, forward + backward ~59 -> 30-44 ms.

    ``keypoints`` > 0 replaces the last pool, flatten and FC input by :class:`SpatialSoftmax` over the last conv
    map: for a box-moving agent *where* the face is matters more than *what* is there, and reading positions off
    attention maps learns that far faster than a flattened FC (measured: a supervised box regressor from the
    whole image at 64 px reached IoU >= 0.5 on 32 % of held-out images after one minute vs 20 % with the FC).
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


class SpatialSoftmax(nn.Module):
    """Attention pooling over a feature map: a 1×1 conv scores every position for each of ``keypoints`` maps, a
    softmax over positions turns each into a distribution, and each map yields its expected position (x, y in
    -1..1, the spatial soft-argmax of Levine et al., JMLR 2016) and the map's features averaged under it.
    Output: ``keypoints * (2 + channels)`` numbers, independent of the map size.
    """

    def __init__(self, channels: int, keypoints: int) -> None:
        super().__init__()
        self.score = nn.Conv2d(channels, keypoints, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, h, w = x.shape
        attention = torch.softmax(self.score(x).flatten(2), dim=2)  # B, K, H*W
        ys, xs = torch.meshgrid(
            torch.linspace(-1, 1, h, device=x.device), torch.linspace(-1, 1, w, device=x.device), indexing="ij"
        )
        grid = torch.stack([xs.flatten(), ys.flatten()], dim=1)  # H*W, 2
        pooled = attention @ x.flatten(2).transpose(1, 2)  # B, K, C
        return torch.cat([attention @ grid, pooled], dim=2).view(batch, -1)


def sincos_2d(rows: int, cols: int, width: int) -> torch.Tensor:
    """Fixed 2-D sinusoidal position codes, ``(rows * cols, width)``, row-major like the patch sequence.

    Patches lie on a grid, so a quarter of the width encodes the row by sin, a quarter by cos, and the other
    half the column (as MAE does): unlike a 1-D code over the flattened sequence, vertically adjacent patches
    get similar codes. Frequencies are geometric from 1 to 1/10000 as in "Attention Is All You Need".
    """
    if width % 4:
        raise ValueError(f"the 2-D sinusoidal code needs width divisible by 4, got {width}")
    quarter = width // 4
    frequencies = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    y, x = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    parts = []
    for position in (y, x):
        angle = position.reshape(-1, 1).double() * frequencies
        parts += [angle.sin(), angle.cos()]
    return torch.cat(parts, dim=1).float()


class PatchTransformer(nn.Module):
    """A small ViT: non-overlapping ``patch``² patches linearly embedded to ``width``, fixed 2-D sinusoidal
    positions added, ``depth`` pre-norm transformer layers with ``heads`` heads (MLP 4 × width, GELU, no
    dropout: RL data are not scarce in the way dropout helps), then a final LayerNorm. The output is the CLS
    token (``pool="cls"``) or the mean over patch tokens (``pool="mean"``).

    The position code is a buffer, not a parameter (it is derived from the grid size, so it is also left out
    of the state dict).
    """

    POOLS = ("cls", "mean")

    def __init__(
        self, shape: Shape, patch: int = 8, depth: int = 2, heads: int = 4, width: int = 64, pool: str = "cls"
    ) -> None:
        super().__init__()
        c, h, w = shape
        if h % patch or w % patch:
            raise ValueError(f"vit patch size {patch} must divide the image size {h}x{w}")
        if width % heads:
            raise ValueError(f"vit width {width} must be divisible by heads {heads}")
        if pool not in self.POOLS:
            raise ValueError(f"vit pool {pool!r}; expected one of {self.POOLS}")
        self.pool = pool
        self.patchify = nn.Conv2d(c, width, patch, stride=patch)
        self.register_buffer("position", sincos_2d(h // patch, w // patch, width), persistent=False)
        self.cls = nn.Parameter(torch.zeros(1, 1, width)) if pool == "cls" else None
        layer = nn.TransformerEncoderLayer(
            width, heads, 4 * width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.features_dim = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patchify(x).flatten(2).transpose(1, 2) + self.position
        if self.cls is not None:
            tokens = torch.cat([self.cls.expand(len(tokens), -1, -1), tokens], dim=1)
        tokens = self.norm(self.blocks(tokens))
        return tokens[:, 0] if self.cls is not None else tokens.mean(dim=1)


def _probe(module: nn.Module, shape: Shape, name: str) -> int:
    """Output width of ``module`` on one zero image; a too-small input becomes an error that names it."""
    try:
        with torch.no_grad():
            return module(torch.zeros(1, *shape)).shape[1]
    except RuntimeError as error:
        raise ValueError(f"{name} cannot encode a {shape[1]}x{shape[2]}x{shape[0]} image: {error}") from None


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
            channels_last = not is_image_space_channels_first(space)
            shape = tuple(space.shape[i] for i in ((2, 0, 1) if channels_last else (0, 1, 2)))
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


ENCODERS: dict[str, type[DictExtractor]] = {"cnn": CnnExtractor, "dwsep": DwsepExtractor, "vit": VitExtractor}


def encoder_policy_kwargs(name: str, **kwargs: Any) -> dict[str, Any]:
    """SB3 ``policy_kwargs`` selecting encoder ``name`` with its options, checked now rather than at build time."""
    cls = lookup(ENCODERS, name, "encoder")
    valid = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "observation_space")]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise TypeError(f"unknown option(s) {unknown} for encoder {name!r}; valid options: {valid}")
    return {"features_extractor_class": cls, "features_extractor_kwargs": dict(kwargs)}
