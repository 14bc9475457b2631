"""Decoded images kept once per machine, shared by every process: a bounded, memory-mapped pixel file.

Why: a localization episode is short (~12 steps), so decoding its JPEG is a third of its time, and the real
training photos decoded take ~1 GB. Each of 8 vector-env workers keeping its own decoded copy would hold 8 GB;
decoding again at every reset wastes the CPU the agent needs. So the first process to open a dataset with a cache
decodes its images, in dataset order until ``limit_mb`` is used, into one raw file under the cache directory; every
process (every worker) maps that file read-only, and the operating system keeps one copy of its pages for all of
them. Images past the limit are decoded at each use, as without a cache. The file is named by a hash of the images'
paths, sizes and modification times and the limit, so a changed image makes a new file, and it is written to a
temporary name and renamed (under a lock, so workers starting together decode it once), so a reader never sees a
half-written file.

Images a source draws (synthetic) have no file to map: :class:`RenderedImages` keeps them in the process instead,
within the same limit (after the files'), since drawing one costs as much as decoding a photo.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from facebox.envs.data.images import read_image
from facebox.envs.data.mixture import MixedDataset
from facebox.envs.data.record import FaceDataset, FaceImage, ListDataset
from facebox.envs.data.synthetic import SyntheticFaces

__all__ = ["CachedImages", "RenderedImages", "cache_directory", "with_cache"]

VERSION = 1


def cache_directory() -> Path:
    """``$FACEBOX_CACHE_DIR``, else ``$XDG_CACHE_HOME/facebox/images`` (``~/.cache/facebox/images``)."""
    if os.environ.get("FACEBOX_CACHE_DIR"):
        return Path(os.environ["FACEBOX_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "facebox" / "images"


def with_cache(dataset: FaceDataset, limit_mb: float, directory: Path | None = None) -> FaceDataset:
    """``dataset`` with its image files' pixels cached (a mixture's file sources in order, sharing the limit), and
    the images a source draws (synthetic) kept in this process's :class:`RenderedImages` cache within what is left.
    """
    directory = directory or cache_directory()
    if isinstance(dataset, ListDataset):
        return CachedImages(dataset, limit_mb, directory)
    if isinstance(dataset, SyntheticFaces):
        return RenderedImages(dataset, limit_mb)
    if isinstance(dataset, MixedDataset):
        sources, left = list(dataset.sources), limit_mb
        for i, source in enumerate(sources):  # file sources first: their cache is shared by every process
            if isinstance(source, ListDataset) and left > 0:
                sources[i] = with_cache(source, left, directory)
                left -= sources[i].cached_mb
        for i, source in enumerate(sources):
            if isinstance(source, SyntheticFaces) and left > 0:
                sources[i] = RenderedImages(source, left)
        return MixedDataset(sources, list(dataset.probabilities), dataset.names)
    return dataset


class RenderedImages(FaceDataset):
    """A procedural source whose drawn images are kept, least recently used first out, in one cache per process
    that holds at most the largest ``limit_mb`` any env of the process asked for (every env of a batched env or of a
    trainer's in-process collection shares it).

    Why: an image costs ~0.9 ms to draw (128 px) against ~0.05 ms for an env step, and evaluations replay the same
    images for every policy they compare. Images are pure functions of the source's parameters and the index, so a
    cached one is the image drawn again, bit for bit; it is read-only, so that no user can change it for the next.
    """

    _images: OrderedDict[tuple, FaceImage] = OrderedDict()
    _limit, _used = 0, 0

    def __init__(self, dataset: SyntheticFaces, limit_mb: float) -> None:
        self.dataset, self.limit_mb = dataset, float(limit_mb)
        self._key = (type(dataset).__name__, *sorted(vars(dataset).items()))
        RenderedImages._limit = max(RenderedImages._limit, int(limit_mb * 2**20))

    def __repr__(self) -> str:
        return f"RenderedImages({self.dataset!r}, limit_mb={self.limit_mb:g})"

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> FaceImage:
        cls, key = RenderedImages, (self._key, self._check_index(index))
        record = cls._images.get(key)
        if record is not None:
            cls._images.move_to_end(key)
            return record
        record = self.dataset[key[1]]
        record.image.setflags(write=False)
        cls._images[key] = record
        cls._used += record.image.nbytes
        while cls._used > cls._limit:
            cls._used -= cls._images.popitem(last=False)[1].image.nbytes
        return record


class CachedImages(ListDataset):
    """A :class:`ListDataset` whose first images (up to ``limit_mb`` of pixels) are served from the shared file."""

    def __init__(self, dataset: ListDataset, limit_mb: float, directory: Path) -> None:
        super().__init__(dataset.entries, dataset.name)
        stats = [(e.path, os.stat(e.path).st_size, os.stat(e.path).st_mtime_ns) for e in self.entries]
        key = hashlib.sha256(json.dumps([VERSION, limit_mb, stats]).encode()).hexdigest()[:24]
        self.pixels_path, self.index_path = directory / f"{key}.u8", directory / f"{key}.json"
        if not self.index_path.exists():
            self._build(directory, int(limit_mb * 2**20))
        self.shapes = [tuple(s) for s in json.loads(self.index_path.read_text())["shapes"]]
        self.offsets = np.cumsum([0] + [int(np.prod(s)) for s in self.shapes])
        self.cached_mb = float(self.offsets[-1]) / 2**20
        self._pixels: np.memmap | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_pixels": None}  # each process maps the file itself

    def __getitem__(self, index: int) -> FaceImage:
        index = self._check_index(index)
        if index >= len(self.shapes):
            return super().__getitem__(index)
        if self._pixels is None:
            self._pixels = np.memmap(self.pixels_path, dtype=np.uint8, mode="r")
        image = self._pixels[self.offsets[index] : self.offsets[index + 1]].reshape(self.shapes[index])
        e = self.entries[index]
        return FaceImage(np.asarray(image), e.boxes, e.kinds, e.identities, e.path, e.attributes)

    def _build(self, directory: Path, limit: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / f"{self.index_path.stem}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.index_path.exists():  # another process built it while this one waited
                return
            shapes, used = [], 0
            tmp = self.pixels_path.with_suffix(f".tmp{os.getpid()}")
            with open(tmp, "wb") as out:
                for entry in self.entries:
                    image = read_image(entry.path)
                    if used + image.nbytes > limit:
                        break
                    out.write(image.tobytes())
                    shapes.append(image.shape)
                    used += image.nbytes
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.pixels_path)
            index_tmp = self.index_path.with_suffix(f".tmp{os.getpid()}")
            index_tmp.write_text(json.dumps({"dataset": self.name, "shapes": shapes}))
            os.replace(index_tmp, self.index_path)
