"""Open any face source from one ``FORMAT:PATH[?key=value&...]`` string.

Scripts (``--data wider:PATH``), environment configs (``"dataset": "synthetic?seed=3"``) and benchmarks all
name data the same way, so one registry maps format names to loaders and unknown names or options fail with
the list of valid ones.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from urllib.parse import parse_qsl

from facebox.envs.data import formats, synthetic, synthetic_video, video
from facebox.envs.data.record import FaceDataset
from facebox.envs.data.video import VideoDataset

__all__ = ["STILL_FORMATS", "VIDEO_FORMATS", "open_dataset", "open_video_dataset", "parse_spec"]

STILL_FORMATS: dict[str, Callable[..., FaceDataset]] = {
    "synthetic": synthetic.SyntheticFaces,
    "wider": formats.load_wider,
    "fddb": formats.load_fddb,
    "celeba": formats.load_celeba,
    "dlib": formats.load_dlib_xml,
    "voc": formats.load_voc,
    "coco": formats.load_coco,
    "csv": formats.load_csv,
}

VIDEO_FORMATS: dict[str, Callable[..., VideoDataset]] = {
    "synthetic": synthetic_video.SyntheticVideos,
    "otb": video.load_otb,
    "got10k": video.load_got10k,
    "video": video.load_video,
}


def parse_spec(spec: str, registry: dict[str, Callable]) -> tuple[Callable, str | None, dict[str, str]]:
    """Split ``FORMAT[:PATH][?k=v&...]`` and look the format up, naming valid formats on a miss."""
    head, _, query = spec.partition("?")
    name, sep, path = head.partition(":")
    if name not in registry:
        raise ValueError(f"data spec {spec!r}: unknown format {name!r}; expected one of {sorted(registry)}")
    options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    return registry[name], (path if sep else None), options


def _coerce(loader: Callable, options: dict[str, str], spec: str) -> dict:
    """Convert ``k=v`` strings to the loader's annotated parameter types, rejecting unknown keys."""
    params = inspect.signature(loader).parameters
    out = {}
    for key, text in options.items():
        if key not in params or key == "path":
            valid = sorted(k for k in params if k != "path")
            raise ValueError(f"data spec {spec!r}: unknown option {key!r}; expected one of {valid}")
        default = params[key].default
        if isinstance(default, bool):
            out[key] = text.lower() in ("1", "true", "yes")
        elif isinstance(default, (int, float)):
            out[key] = type(default)(text)
        elif isinstance(default, tuple):
            out[key] = tuple(t for t in text.split(",") if t)
        else:
            out[key] = text
    return out


def open_dataset(spec: str | FaceDataset) -> FaceDataset:
    """Return a dataset for a spec string (``wider:PATH``, ``synthetic?seed=1``, ...), or the dataset itself."""
    return _open(spec, STILL_FORMATS, FaceDataset)


def open_video_dataset(spec: str | VideoDataset) -> VideoDataset:
    """Return a video dataset for a spec string (``otb:PATH``, ``synthetic?frames=30``, ...), or the dataset itself."""
    return _open(spec, VIDEO_FORMATS, VideoDataset)


def _open(spec: object, registry: dict[str, Callable], protocol: type):
    """Open ``spec`` with ``registry``'s loaders; an instance of ``protocol`` passes through unchanged."""
    if isinstance(spec, protocol):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"expected a data spec string or a {protocol.__name__}, got {type(spec).__name__}")
    loader, path, options = parse_spec(spec, registry)
    kwargs = _coerce(loader, options, spec)
    return loader(**kwargs) if path is None else loader(path, **kwargs)
