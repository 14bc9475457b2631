"""Batch samplers for the one trainer: a seeded shuffle, and identity-balanced batches for metric learning.

A contrastive or triplet batch drawn at random from 240 identities of ~10 faces each has almost no two faces of one
person, hence no positive pairs and nothing to learn from. The balanced sampler draws ``batch_size / per_identity``
identities per batch and ``per_identity`` faces of each (the "P×K" batches of Hermans et al., 2017). It plays the
part of pytorch-metric-learning's ``MPerClassSampler``, but draws from a generator seeded by ``(seed, epoch)``
rather than NumPy's global state, so a run is reproducible and a resumed run sees the batches the uninterrupted one
would have (the trainer resumes at a batch position inside an epoch).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

__all__ = ["ShuffleBatches", "BalancedBatches"]


class ShuffleBatches:
    """``len(items) // batch_size`` batches of a fresh permutation each epoch (the remainder is dropped, as the
    objectives' batch statistics want full batches)."""

    def __init__(self, size: int, batch_size: int, seed: int = 0) -> None:
        if size < batch_size:
            raise ValueError(f"{size} training items cannot fill one batch of {batch_size}")
        self.size, self.batch_size, self.seed, self.epoch = size, batch_size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size // self.batch_size

    def __iter__(self) -> Iterator[list[int]]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
        for b in range(len(self)):
            yield order[b * self.batch_size : (b + 1) * self.batch_size].tolist()


class BalancedBatches(ShuffleBatches):
    """Batches of ``batch_size // per_identity`` identities × ``per_identity`` faces each; items labelled -1 (no
    identity) are never drawn. Identities are visited in a fresh order each epoch, each once before any repeats;
    an identity with fewer faces than ``per_identity`` repeats some (a positive pair of a face with its own
    differently jittered copy still teaches invariance). An epoch has as many batches as the labelled faces fill."""

    def __init__(self, labels: Sequence[int], batch_size: int, per_identity: int = 4, seed: int = 0) -> None:
        labels = np.asarray(labels)
        self.groups = [np.flatnonzero(labels == label) for label in np.unique(labels[labels >= 0])]
        if per_identity < 2 or batch_size % per_identity:
            raise ValueError(f"batch_size {batch_size} must be a multiple of per_identity {per_identity} >= 2")
        self.per_identity, self.identities = per_identity, batch_size // per_identity
        if len(self.groups) < self.identities:
            raise ValueError(
                f"balanced batches of {self.identities} identities need as many; the data has {len(self.groups)}"
            )
        super().__init__(sum(len(g) for g in self.groups), batch_size, seed)

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order: list[int] = []
        for _ in range(len(self)):
            if len(order) < self.identities:  # a new pass over the identities, after what is left of the last
                order += [g for g in rng.permutation(len(self.groups)) if g not in order]
            chosen, order = order[: self.identities], order[self.identities :]
            batch = []
            for g in chosen:
                group = self.groups[g]
                batch += rng.choice(group, self.per_identity, replace=len(group) < self.per_identity).tolist()
            yield batch
