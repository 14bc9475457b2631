"""DANN's gradient reversal: the identity forward, -λ times the gradient backward; the λ schedule."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from facebox.perception.reversal import dann_lambda, reverse_gradient  # noqa: E402


def test_reversal_is_the_identity_forward_and_minus_lambda_times_the_gradient_backward():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = reverse_gradient(x, 0.7)
    assert torch.equal(y, x.detach())
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([-0.7, -1.4, -2.1]))


def test_the_features_learn_against_the_domain_classifier():
    """One step: the classifier's loss falls on its own weights and rises through the reversed features."""
    g = torch.Generator().manual_seed(0)
    features = torch.randn(32, 4, generator=g, requires_grad=True)
    domains = (torch.arange(32) % 2).float()
    classifier = torch.nn.Linear(4, 1)

    def loss(f):
        return torch.nn.functional.binary_cross_entropy_with_logits(classifier(f).squeeze(1), domains)

    before = loss(features)
    loss(reverse_gradient(features, 1.0)).backward()
    with torch.no_grad():
        assert loss(features - 0.5 * features.grad) > before  # the features moved to confuse the classifier
        for p in classifier.parameters():
            p -= 0.5 * p.grad
        assert loss(features) < before  # the classifier itself still learnt to separate


def test_the_lambda_schedule_grows_from_0_to_nearly_1():
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert dann_lambda(1.0) == pytest.approx(0.99991, abs=1e-5)
    values = [dann_lambda(p / 10) for p in range(11)]
    assert values == sorted(values)
    with pytest.raises(ValueError, match="progress must be in"):
        dann_lambda(1.5)
