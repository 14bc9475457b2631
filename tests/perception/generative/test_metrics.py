"""Sample metrics: the Fréchet distance against its closed form, the 1-NN two-sample test at its two extremes, and
the density-ratio coverage test finding the mode a generator dropped."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from facebox.perception.generative.metrics import (  # noqa: E402
    coverage_test,
    frechet_distance,
    gaussian_frechet_distance,
    one_nn_accuracy,
)


def _rotation(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s], [s, c]], dtype=torch.float64)


def test_the_frechet_distance_of_known_gaussians_is_the_closed_form():
    # Σa = 4I and Σb = R diag(1, 9) Rᵀ do not commute with diag(...) but tr (Σa Σb)^½ = 2 tr Σb^½ = 2 (1 + 3)
    cov_a = 4 * torch.eye(2, dtype=torch.float64)
    cov_b = _rotation(0.7) @ torch.diag(torch.tensor([1.0, 9.0], dtype=torch.float64)) @ _rotation(0.7).T
    mean_a, mean_b = torch.zeros(2), torch.tensor([1.0, 2.0])
    expected = 5 + 8 + 10 - 2 * 8
    assert gaussian_frechet_distance(mean_a, cov_a, mean_b, cov_b) == pytest.approx(expected, abs=1e-9)
    # a general pair of non-commuting covariances against scipy's matrix square root
    scipy_linalg = pytest.importorskip("scipy.linalg")
    cov_c = _rotation(0.3) @ torch.diag(torch.tensor([0.5, 2.0], dtype=torch.float64)) @ _rotation(0.3).T
    general = 5 + float(cov_c.trace() + cov_b.trace()) - 2 * scipy_linalg.sqrtm((cov_c @ cov_b).numpy()).real.trace()
    assert gaussian_frechet_distance(mean_a, cov_c, mean_b, cov_b) == pytest.approx(general, abs=1e-9)
    # and from samples: the fitted Gaussians approach the true ones
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(40_000, 2, generator=generator, dtype=torch.float64) @ (2 * torch.eye(2, dtype=torch.float64))
    root_b = _rotation(0.7) @ torch.diag(torch.tensor([1.0, 3.0], dtype=torch.float64))
    b = torch.randn(40_000, 2, generator=generator, dtype=torch.float64) @ root_b.T + mean_b.double()
    assert frechet_distance(a, b) == pytest.approx(expected, abs=0.15)


def test_the_frechet_distance_of_a_set_with_itself_is_zero():
    features = torch.randn(500, 16, generator=torch.Generator().manual_seed(1))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(features, features + 1) == pytest.approx(16.0, abs=1e-6)  # a shift of 1 per dimension
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(features[:1], features)


def test_one_nn_accuracy_is_chance_for_one_distribution_and_one_for_separated_ones():
    generator = torch.Generator().manual_seed(2)
    a, b = torch.randn(400, 5, generator=generator), torch.randn(400, 5, generator=generator)
    assert one_nn_accuracy(a, b) == pytest.approx(0.5, abs=0.06)
    assert one_nn_accuracy(a, b + 10) == 1.0
    assert one_nn_accuracy(a, a[torch.randperm(400, generator=generator)] + 1e-6) == 0.0  # memorised: always the twin


def _patterns(n: int, bright: bool, generator: torch.Generator) -> torch.Tensor:
    """Blocky 4x4 random patterns upsampled to 3x16x16: bright ones in [0.6, 0.9], dark ones in [0.1, 0.4]."""
    low = 0.6 if bright else 0.1
    blocks = low + 0.3 * torch.rand(n, 3, 4, 4, generator=generator)
    return torch.nn.functional.interpolate(blocks, size=16, mode="nearest")


def test_the_coverage_test_flags_the_mode_a_generator_dropped():
    generator = torch.Generator().manual_seed(3)
    real_train = torch.cat([_patterns(256, True, generator), _patterns(256, False, generator)])
    scored = {"bright": _patterns(128, True, generator), "dark": _patterns(128, False, generator)}
    draws = torch.Generator().manual_seed(4)
    state = torch.get_rng_state()
    flagged = coverage_test(lambda n: _patterns(n, True, draws), real_train, scored, threshold=10.0, steps=200)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random stream is untouched
    assert flagged["dark"] > 0.9 and flagged["bright"] < 0.1, flagged
    # a generator of both modes covers both
    both = coverage_test(
        lambda n: torch.cat([_patterns(n - n // 2, True, draws), _patterns(n // 2, False, draws)]),
        real_train,
        scored,
        steps=200,
    )
    assert max(both.values()) < 0.1, both
