"""Open any face source from one ``FORMAT:PATH[?key=value&...]`` string.

Scripts (``--data wider:PATH``), environment configs (``"dataset": "synthetic?seed=3"``) and benchmarks all
name data the same way, so one registry maps format names to loaders. A wrong spec (unknown format, unknown
option, an option value of the wrong type) is a config mistake: it raises :class:`facebox.config.ConfigError`
naming the spec, the key, what was expected and what was given, before any file is read.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Literal, get_args, get_origin
from urllib.parse import parse_qsl, urlencode

from facebox.config import ConfigError
from facebox.envs.data import formats, synthetic, synthetic_video, video
from facebox.envs.data.mixture import MixedDataset, MixedVideos
from facebox.envs.data.record import FaceDataset
from facebox.envs.data.video import VideoDataset
from facebox.envs.data.video.stills import StillVideos

__all__ = ["STILL_FORMATS", "VIDEO_FORMATS", "open_dataset", "open_video_dataset", "parse_spec", "held_out"]

STILL_FORMATS: dict[str, Callable[..., FaceDataset]] = {
    "synthetic": synthetic.SyntheticFaces,
    "wider": formats.load_wider,
    "fddb": formats.load_fddb,
    "celeba": formats.load_celeba,
    "dlib": formats.load_dlib_xml,
    "voc": formats.load_voc,
    "coco": formats.load_coco,
    "csv": formats.load_csv,
    "folders": formats.load_identity_folders,
    "celeba_ids": formats.load_celeba_identities,
}

VIDEO_FORMATS: dict[str, Callable[..., VideoDataset]] = {
    "synthetic": synthetic_video.SyntheticVideos,
    "otb": video.load_otb,
    "got10k": video.load_got10k,
    "video": video.load_video,
    "stills": StillVideos,  # stills:STILL_SPEC: camera options are its own, the others go to STILL_SPEC
}


def parse_spec(spec: str, registry: dict[str, Callable]) -> tuple[Callable, str | None, dict[str, str]]:
    """Split ``FORMAT[:PATH][?k=v&...]`` and look the format up, naming valid formats on a miss."""
    head, _, query = spec.partition("?")
    name, sep, path = head.partition(":")
    if name not in registry:
        raise ConfigError(f"data spec {spec!r}: unknown format {name!r}; expected one of {sorted(registry)}")
    try:
        options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    except ValueError:
        raise ConfigError(
            f"data spec {spec!r}: expected options as key=value pairs joined by '&', got {query!r}"
        ) from None
    return registry[name], (path if sep else None), options


_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no", "")


def _coerce(loader: Callable, options: dict[str, str], spec: str) -> dict:
    """Convert ``k=v`` strings to the types of the loader's parameter defaults, rejecting unknown keys and values
    that do not convert (a misspelt ``ignore_invalid=ture`` must not quietly mean False); a parameter annotated
    ``Literal[...]`` takes one of its values."""
    params = inspect.signature(loader, eval_str=True).parameters
    out = {}
    for key, text in options.items():
        if key not in params or key == "path":
            valid = sorted(k for k in params if k != "path")
            raise ConfigError(f"data spec {spec!r}: unknown option {key!r}; expected one of {valid}")
        default = params[key].default
        if get_origin(params[key].annotation) is Literal:
            choices = get_args(params[key].annotation)
            if text not in choices:
                raise ConfigError(f"data spec {spec!r}: option {key!r} expects one of {choices}, got {text!r}")
            out[key] = text
        elif isinstance(default, bool):
            if text.lower() not in _TRUE + _FALSE:
                raise ConfigError(f"data spec {spec!r}: option {key!r} expects one of {_TRUE + _FALSE}, got {text!r}")
            out[key] = text.lower() in _TRUE
        elif isinstance(default, (int, float)):
            try:
                out[key] = type(default)(text)
            except ValueError:
                what = "a whole number" if isinstance(default, int) else "a number"
                raise ConfigError(f"data spec {spec!r}: option {key!r} expects {what}, got {text!r}") from None
        elif isinstance(default, tuple):
            out[key] = tuple(t for t in text.split(",") if t)
        else:
            out[key] = text
    return out


def open_dataset(spec: str | FaceDataset | Mapping[str, float]) -> FaceDataset:
    """Return a dataset for a spec string (``wider:PATH``, ``synthetic?seed=1``, ...), a :class:`MixedDataset` for a
    ``{spec: weight}`` mapping (``{"synthetic": 1, "csv:PATH?images=images": 1}``), or the dataset itself."""
    if isinstance(spec, Mapping):
        return MixedDataset.from_weights(spec, lambda one: _open(one, STILL_FORMATS, FaceDataset))
    return _open(spec, STILL_FORMATS, FaceDataset)


def open_video_dataset(spec: str | VideoDataset | Mapping[str, float]) -> VideoDataset:
    """Return a video dataset for a spec string (``otb:PATH``, ``synthetic?frames=30``,
    ``stills:csv:PATH?images=images&frames=30``, ...), a :class:`MixedVideos` for a ``{spec: weight}`` mapping, or
    the dataset itself."""
    if isinstance(spec, Mapping):
        return MixedVideos.from_weights(spec, open_video_dataset)
    if isinstance(spec, str):
        loader, inner, options = parse_spec(spec, VIDEO_FORMATS)
        if loader is StillVideos:
            return _open_stills(spec, inner, options)
    return _open(spec, VIDEO_FORMATS, VideoDataset)


def _open_stills(spec: str, inner: str | None, options: dict[str, str]) -> StillVideos:
    """``stills:STILL_SPEC?options``: the options :class:`StillVideos` takes move the camera, the rest belong to
    ``STILL_SPEC`` (``stills:synthetic?length=50&frames=30`` is 50 synthetic stills, 30 frames a clip)."""
    if not inner:
        raise ConfigError(f"data spec {spec!r}: expected stills:STILL_SPEC (e.g. stills:csv:PATH), got no still spec")
    own = set(inspect.signature(StillVideos).parameters) - {"source"}
    camera = _coerce(StillVideos, {k: v for k, v in options.items() if k in own}, spec)
    rest = {k: v for k, v in options.items() if k not in own}
    try:
        source = open_dataset(inner + (f"?{urlencode(rest, safe=',/')}" if rest else ""))
    except ConfigError as err:
        raise ConfigError(f"data spec {spec!r}: {err}") from None
    return StillVideos(source, **camera)


def _open(spec: object, registry: dict[str, Callable], protocol: type):
    """Open ``spec`` with ``registry``'s loaders; an instance of ``protocol`` passes through unchanged."""
    if isinstance(spec, protocol):
        return spec
    if not isinstance(spec, str):
        raise ConfigError(f"expected a data spec string or a {protocol.__name__}, got {type(spec).__name__} {spec!r}")
    loader, path, options = parse_spec(spec, registry)
    kwargs = _coerce(loader, options, spec)
    return loader(**kwargs) if path is None else loader(path, **kwargs)


def held_out(spec: str, offset: int) -> str:
    """The synthetic spec with its seed moved by ``offset``: the same kind of images, none of the same ones.

    Other formats have no such twin (use their validation split), so they raise.
    """
    loader, _, options = parse_spec(spec, STILL_FORMATS) if isinstance(spec, str) else (None, None, {})
    if loader is not synthetic.SyntheticFaces:
        raise ConfigError(
            f"training data {spec!r} is not synthetic: name the held-out evaluation data explicitly (--eval-data)"
        )
    default = inspect.signature(synthetic.SyntheticFaces).parameters["seed"].default
    seed = _coerce(loader, options, spec).get("seed", default)  # a bad seed=abc is named like any option mistake
    options["seed"] = str(seed + offset)
    return f"synthetic?{urlencode(options, safe=',')}"
