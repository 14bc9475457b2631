"""ArcFace logits and the intra/inter terms on hand-built tensors, and against pytorch-metric-learning."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from torch.nn import functional as F  # noqa: E402

from facebox.perception.losses import arcface_logits, cosine_logits, inter_loss, intra_loss  # noqa: E402


def _data(seed: int = 0, n: int = 16, d: int = 8, c: int = 5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(c, d, generator=g), torch.randint(0, c, (n,), generator=g)


def test_no_margin_and_unit_scale_is_normalised_softmax():
    features, centres, labels = _data()
    cosines = cosine_logits(features, centres)
    assert torch.allclose(cosines, F.normalize(features, dim=1) @ F.normalize(centres, dim=1).T)
    assert torch.allclose(arcface_logits(cosines, labels, scale=1.0, margin=0.0), cosines, atol=1e-6)


def test_the_margin_lowers_only_the_target_logit_by_s_times_cos_theta_minus_cos_theta_plus_m():
    cosines = torch.tensor([[0.8, 0.1, -0.3], [0.2, 0.5, 0.0]])
    labels = torch.tensor([0, 1])
    s, m = 30.0, 0.5
    logits = arcface_logits(cosines, labels, s, m)
    theta = torch.acos(torch.tensor([0.8, 0.5]))
    drop = s * (torch.tensor([0.8, 0.5]) - torch.cos(theta + m))
    assert torch.allclose(s * cosines[[0, 1], [0, 1]] - logits[[0, 1], [0, 1]], drop)
    others = torch.ones_like(cosines, dtype=torch.bool)
    others[[0, 1], [0, 1]] = False
    assert torch.allclose(logits[others], s * cosines[others])


def test_beyond_pi_minus_m_the_target_logit_keeps_decreasing():
    m = 0.5
    theta = torch.linspace(0, math.pi, 200)
    cosines = torch.stack([torch.cos(theta), torch.zeros_like(theta)], dim=1)
    target = arcface_logits(cosines, torch.zeros(200, dtype=torch.long), 1.0, m)[:, 0]
    assert (target[1:] <= target[:-1] + 1e-6).all()
    far = theta > math.pi - m
    assert torch.allclose(target[far], torch.cos(theta[far]) - m * math.sin(m), atol=1e-6)


def test_arcface_equals_pytorch_metric_learning_for_the_same_centres_and_margin():
    pml = pytest.importorskip("pytorch_metric_learning.losses")
    features, centres, labels = _data(seed=3)
    theirs = pml.ArcFaceLoss(num_classes=5, embedding_size=8, margin=28.6, scale=64)
    with torch.no_grad():
        theirs.W.copy_(centres.T)  # their centres are the columns
    ours = F.cross_entropy(arcface_logits(cosine_logits(features, centres), labels, 64.0, math.radians(28.6)), labels)
    assert torch.allclose(ours, theirs(features, labels), rtol=1e-5, atol=1e-5)


def test_a_gradient_step_on_the_intra_term_shrinks_the_angle_and_on_the_inter_term_spreads_the_centres():
    features, centres, labels = _data(seed=5)
    features.requires_grad_(True)
    before = intra_loss(cosine_logits(features, centres), labels)
    before.backward()
    with torch.no_grad():
        after = intra_loss(cosine_logits(features - 0.1 * features.grad, centres), labels)
    assert 0 < after < before < 1
    centres.requires_grad_(True)
    spread = inter_loss(centres, labels)
    spread.backward()
    with torch.no_grad():
        assert inter_loss(centres - 0.1 * centres.grad, labels) < spread < 0
    assert abs(inter_loss(torch.ones(3, 4), torch.tensor([0, 1]))) < 1e-3  # identical centres: no angle between them


def test_the_margin_contrastive_loss_on_hand_built_pairs():
    from facebox.perception.losses import contrastive_loss

    d = torch.tensor([0.5, 0.5, 2.0, 0.2])
    same = torch.tensor([1, 0, 0, 1])
    # same pairs pay d², different pairs (k - d)² when closer than k = 1, nothing beyond it
    assert contrastive_loss(d, same, margin=1.0).item() == pytest.approx((0.25 + 0.25 + 0.0 + 0.04) / 4)


def test_the_energy_contrastive_loss_on_hand_built_pairs():
    from facebox.perception.losses import energy_contrastive_loss

    e = torch.tensor([0.5, 0.5, 3.0])
    same = torch.tensor([1, 0, 0])
    expected = (2 * 0.25 + 3 * math.exp(-0.5 * 0.5) + 3 * math.exp(-0.5 * 3.0)) / 3
    assert energy_contrastive_loss(e, same, (2.0, 3.0, 0.5)).item() == pytest.approx(expected)


def test_batch_hard_triplets_by_hand_and_against_pytorch_metric_learning():
    from facebox.perception.losses import batch_hard_triplet_loss

    points = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [4.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    # class 0's anchors: hardest positive at 1, nearest negative at 3; class 1's: positive at 5, negative at 3
    expected = (max(0, 1 - 3 + 2.5) + max(0, 1 - 3 + 2.5) + max(0, 5 - 3 + 2.5) + max(0, 5 - 3 + 2.5)) / 4
    assert batch_hard_triplet_loss(points, labels, margin=2.5).item() == pytest.approx(expected)
    with pytest.raises(ValueError, match="two faces of one identity"):
        batch_hard_triplet_loss(points, torch.tensor([0, 1, 2, 3]), margin=1.0)
    pml = pytest.importorskip("pytorch_metric_learning")
    from pytorch_metric_learning import distances, losses, miners, reducers

    features, _, _ = _data(seed=7, n=24)
    labels = torch.arange(24) % 6
    euclidean = distances.LpDistance(normalize_embeddings=False)
    theirs = losses.TripletMarginLoss(margin=0.3, distance=euclidean, reducer=reducers.MeanReducer())
    triplets = miners.BatchHardMiner(distance=euclidean)(features, labels)
    assert pml.__version__ < "3"
    assert torch.allclose(batch_hard_triplet_loss(features, labels, 0.3), theirs(features, labels, triplets), atol=1e-5)
