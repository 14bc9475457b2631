"""Several sources as one dataset, sampled by weight: real photos mixed with synthetic faces, clips of real stills
mixed with synthetic clips.

Why weights rather than concatenation: the sources differ by orders of magnitude in size (the synthetic generator is
endless, a real folder holds hundreds of photos), so sampling in proportion to size would drown the real photos.
A mixture draws the source by its weight, then an image of it uniformly, both with the caller's generator, so an
env's ``np_random`` alone decides what it sees. Indexing walks the sources in order (source 0's images, then
source 1's, ...), so deterministic sweeps (``reset(options={"index": i})``) reach every image of every source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from facebox.config import ConfigError
from facebox.envs.data.record import Dataset, FaceDataset
from facebox.envs.data.video.sequences import VideoDataset

__all__ = ["MixedDataset", "MixedVideos", "Mixture"]


class Mixture(Dataset):
    """``sources`` sampled with probabilities proportional to ``weights`` (positive, finite numbers)."""

    def __init__(self, sources: Sequence[Dataset], weights: Sequence[float], names: Sequence[str]) -> None:
        if not sources:
            raise ConfigError("a dataset mixture: expected at least one {spec: weight} entry, got none")
        for name, weight in zip(names, weights, strict=True):
            if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight < float("inf"):
                raise ConfigError(f"dataset mixture[{name!r}]: expected a weight > 0, got {weight!r}")
        self.sources, self.names = list(sources), list(names)
        self.probabilities = np.asarray(weights, dtype=np.float64) / float(np.sum(weights))
        self.offsets = np.cumsum([0] + [len(s) for s in self.sources])

    def __repr__(self) -> str:
        parts = ", ".join(f"{n!r}: {p:.3g}" for n, p in zip(self.names, self.probabilities, strict=True))
        return f"{type(self).__name__}({{{parts}}})"

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int):
        index = self._check_index(index)
        source = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return self.sources[source][index - int(self.offsets[source])]

    def sample(self, rng: np.random.Generator):
        source = int(rng.choice(len(self.sources), p=self.probabilities)) if len(self.sources) > 1 else 0
        return self.sources[source].sample(rng)

    @classmethod
    def from_weights(cls, weights: Mapping[str, float], open_one) -> Mixture:
        """The mixture of a ``{spec: weight}`` mapping, each spec opened by ``open_one``; an error names the spec."""
        sources = []
        for spec in weights:
            if not isinstance(spec, str):
                raise ConfigError(f"dataset mixture: expected data spec strings as keys, got {spec!r}")
            sources.append(open_one(spec))
        return cls(sources, list(weights.values()), list(weights))


class MixedDataset(Mixture, FaceDataset):
    """A mixture of still-image sources."""


class MixedVideos(Mixture, VideoDataset):
    """A mixture of video sources."""
