"""Open any face source from one ``FORMAT:PATH[?key=value&...]`` string.

Scripts (``--data wider:PATH``), environment configs (``"dataset": "synthetic?seed=3"``) and benchmarks all
name data the same way, so one registry maps format names to loaders and unknown names or options fail with
the list of valid ones.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from urllib.parse import parse_qsl

from facebox.envs.data import formats, synthetic
from facebox.envs.data.record import FaceDataset

__all__ = ["STILL_FORMATS", "open_dataset", "parse_spec"]

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
    """Return a dataset for a spec string, or the dataset itself if one is passed."""
    if isinstance(spec, FaceDataset):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"dataset must be a spec string or a FaceDataset, got {type(spec).__name__}")
    loader, path, options = parse_spec(spec, STILL_FORMATS)
    kwargs = _coerce(loader, options, spec)
    return loader(**kwargs) if path is None else loader(path, **kwargs)
