"""Judging generated crops without downloaded weights: distances in our own backbones' features, and a test of
which real crops a generator fails to cover.

- :func:`frechet_distance`, the "own-feature FD": the Fréchet distance between Gaussians fitted to two feature sets
  (FID's formula, Heusel et al., 2017). FID proper is this in an ImageNet Inception network's pool features, whose
  weights we cannot download; in the features of one of our fixed backbones the number only compares generators
  judged in the same features, never with published FIDs.
- :func:`one_nn_accuracy`: the leave-one-out 1-nearest-neighbour two-sample test (Lopez-Paz & Oquab, 2017; proposed
  as a GAN metric by Xu et al., 2018): 0.5 when the two sets are indistinguishable, 1 when every sample's nearest
  neighbour is from its own set (mode collapse or memorisation push it above 0.5 in different ways).
- :func:`coverage_test`: the optimal discriminator of real against generated data is ``D*(x) = p_r / (p_r + p_θ)``
  (Goodfellow et al., 2014, Proposition 1), so ``p_r / p_θ = D* / (1 - D*) = exp(logit)``. A fresh discriminator
  trained on held-out real crops against samples estimates that ratio, and a real crop where it is large lies where
  the data has mass the generator does not: the modes it dropped (say animal faces in a generator of humans).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from facebox.perception.backbones.strided import StridedCNN

__all__ = ["gaussian_frechet_distance", "frechet_distance", "one_nn_accuracy", "coverage_test"]


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def gaussian_frechet_distance(
    mean_a: torch.Tensor, cov_a: torch.Tensor, mean_b: torch.Tensor, cov_b: torch.Tensor
) -> float:
    """``‖μa - μb‖² + tr(Σa + Σb - 2 (Σa Σb)^½)``, the squared 2-Wasserstein distance of two Gaussians. The trace
    of ``(Σa Σb)^½`` is that of ``(Σa^½ Σb Σa^½)^½``, a symmetric PSD matrix (similar to ``Σa Σb``), whose square
    root an eigen-decomposition gives stably in float64, where ``scipy.linalg.sqrtm`` of the non-symmetric product
    returns complex noise for nearly singular covariances."""
    mean_a, cov_a, mean_b, cov_b = (t.double() for t in (mean_a, cov_a, mean_b, cov_b))
    root = _psd_sqrt(cov_a)
    middle = root @ cov_b @ root
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0).sqrt().sum()
    return float((mean_a - mean_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * trace_sqrt)


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """The Fréchet distance between Gaussians fitted to ``[N, D]`` and ``[M, D]`` feature sets (unbiased
    covariances; as in FID, it is biased upwards for small sets: compare sets of one size)."""
    if len(features_a) < 2 or len(features_b) < 2:
        raise ValueError("frechet_distance needs at least 2 samples per set")
    a, b = features_a.flatten(1).double(), features_b.flatten(1).double()
    return gaussian_frechet_distance(a.mean(0), torch.cov(a.T), b.mean(0), torch.cov(b.T))


def one_nn_accuracy(real_features: torch.Tensor, fake_features: torch.Tensor) -> float:
    """The fraction of the pooled samples whose nearest other sample (Euclidean, itself left out) is from their own
    set. With sets of equal size 0.5 is ideal; unequal sizes shift the chance level towards the larger set's share,
    so pass equal sizes."""
    pooled = torch.cat([real_features.flatten(1), fake_features.flatten(1)]).double()
    labels = torch.cat([torch.ones(len(real_features)), torch.zeros(len(fake_features))])
    distances = torch.cdist(pooled, pooled)
    distances.fill_diagonal_(math.inf)
    return float((labels[distances.argmin(1)] == labels).double().mean())


def coverage_test(
    generate: Callable[[int], torch.Tensor],
    real_train: torch.Tensor,
    real_score: Mapping[str, torch.Tensor],
    threshold: float = 10.0,
    steps: int = 300,
    batch_size: int = 64,
    channels: Sequence[int] = (16, 32),
    lr: float = 1e-3,
    seed: int = 0,
) -> dict[str, float]:
    """The fraction of each group of ``real_score`` crops (``{"human": [N, C, H, W], ...}`` in [0, 1]) whose
    estimated density ratio ``p_r / p_θ`` exceeds ``threshold``: the crops the generator does not cover.

    A fresh discriminator (a ``StridedCNN`` of ``channels``, per-sample so ``norm: none``, and a linear head) takes
    ``steps`` Adam steps on balanced batches of ``real_train`` crops (label 1) against ``generate(n)`` samples
    (label 0, drawn anew each step); with equal class priors its logit estimates ``log p_r/p_θ``. ``real_score``
    must be other crops than ``real_train`` (say a second held-out split): a discriminator scores the very crops it
    learnt as real with inflated ratios. Neither set should be the generator's training crops, which a generator
    may have memorised.

    Why ``threshold`` 10 (``D = 0.91``): a discriminator of a few hundred steps is far from optimal and rates even
    covered crops away from ratio 1, by a factor of a few where the generator is merely imperfect (blurred, a little
    off in colour); ten times more real mass than generated mass is a region the generator all but never visits. A
    lower threshold counts quality defects as missing coverage, a higher one needs a discriminator trained longer.

    Randomness (the discriminator's initial weights, the batches, ``generate``'s noise if it uses the global RNG)
    is seeded by ``seed`` inside a forked RNG, so the caller's random stream is left as it was.
    """
    if threshold <= 0:
        raise ValueError(f"coverage_test: threshold must be > 0, got {threshold}")
    shape = tuple(real_train.shape[1:])
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        torch.manual_seed(seed)
        trunk = StridedCNN(shape, channels, features=64, norm="none")
        discriminator = nn.Sequential(trunk, nn.Linear(trunk.features_dim, 1)).to(real_train.device)
        optimizer = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
        half = max(1, batch_size // 2)
        targets = torch.cat([torch.ones(half), torch.zeros(half)]).to(real_train.device)
        for _ in range(steps):
            real = real_train[torch.randint(len(real_train), (half,))]
            with torch.no_grad():
                fake = generate(half).detach()
            logits = discriminator(torch.cat([real, fake]) - 0.5).squeeze(1)
            loss = F.binary_cross_entropy_with_logits(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    log_threshold = math.log(threshold)
    flagged = {}
    with torch.no_grad():
        for group, crops in real_score.items():
            logits = torch.cat([discriminator(chunk - 0.5).squeeze(1) for chunk in crops.split(256)])
            flagged[group] = float((logits > log_threshold).float().mean())
    return flagged
