"""Batch samplers: seeded shuffles, identity-balanced P×K batches, and pytorch-metric-learning's sampler beside ours."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

import numpy as np  # noqa: E402

from facebox.perception.samplers import BalancedBatches, ShuffleBatches  # noqa: E402

# Six identities with 5, 4, 1, 3, 6 and 2 faces, and four faces without identity, interleaved.
COUNTS = {0: 5, 1: 4, 2: 1, 3: 3, 4: 6, 5: 2, -1: 4}
LABELS = np.random.default_rng(0).permutation([label for label, n in COUNTS.items() for _ in range(n)]).tolist()
N_IDS = 6


def _epoch(sampler, epoch: int = 0) -> list[list[int]]:
    sampler.set_epoch(epoch)
    return list(sampler)


# ShuffleBatches


def test_shuffle_batches_cover_a_permutation_each_epoch():
    sampler = ShuffleBatches(12, 4, seed=1)
    assert len(sampler) == 3
    for epoch in range(3):
        batches = _epoch(sampler, epoch)
        assert len(batches) == 3 and all(len(b) == 4 for b in batches)
        assert sorted(i for b in batches for i in b) == list(range(12))
        assert all(isinstance(i, int) for b in batches for i in b)


def test_shuffle_batches_drop_the_remainder_and_stay_disjoint():
    sampler = ShuffleBatches(11, 3, seed=0)
    batches = list(sampler)
    assert len(sampler) == len(batches) == 3
    flat = [i for b in batches for i in b]
    assert len(set(flat)) == 9 and set(flat) <= set(range(11))


def test_shuffle_batches_are_seeded_by_seed_and_epoch():
    a, b = ShuffleBatches(30, 5, seed=7), ShuffleBatches(30, 5, seed=7)
    assert list(a) == list(b) == list(a)  # iterating again repeats the epoch
    first = _epoch(a, 0)
    second = _epoch(a, 1)
    assert second != first and _epoch(b, 1) == second
    assert list(ShuffleBatches(30, 5, seed=8)) != first
    np.random.seed(123)  # NumPy's global state plays no part
    assert _epoch(a, 0) == first


def test_shuffle_batches_need_one_full_batch():
    assert len(ShuffleBatches(4, 4)) == 1
    with pytest.raises(ValueError, match="3 training items cannot fill one batch of 4"):
        ShuffleBatches(3, 4)


# BalancedBatches


def _identities(batch: list[int], per_identity: int) -> list[int]:
    return [LABELS[i] for i in batch[::per_identity]]


def test_balanced_batches_have_p_identities_of_k_faces_each():
    sampler = BalancedBatches(LABELS, batch_size=8, per_identity=2, seed=0)
    assert len(sampler) == sum(n for label, n in COUNTS.items() if label >= 0) // 8 == 2
    for epoch in range(10):
        for batch in _epoch(sampler, epoch):
            assert len(batch) == 8
            labels = [LABELS[i] for i in batch]
            assert -1 not in labels
            assert len(set(labels)) == 4 and all(labels.count(label) == 2 for label in set(labels))
            # each identity's faces sit together, in the order the identities were drawn
            assert labels == [label for label in _identities(batch, 2) for _ in range(2)]


def test_faces_repeat_only_for_identities_with_too_few():
    sampler = BalancedBatches(LABELS, batch_size=9, per_identity=3, seed=2)
    seen_small = 0
    for epoch in range(20):
        for batch in _epoch(sampler, epoch):
            for start in range(0, 9, 3):
                faces = batch[start : start + 3]
                label = LABELS[faces[0]]
                assert {LABELS[i] for i in faces} == {label}
                if COUNTS[label] >= 3:
                    assert len(set(faces)) == 3
                else:  # identities 2 (one face) and 5 (two faces) are drawn with repetition
                    seen_small += 1
                    assert len(set(faces)) <= COUNTS[label]
                    assert set(faces) <= {i for i, y in enumerate(LABELS) if y == label}
    assert seen_small > 0


def test_every_identity_is_drawn_before_any_repeats():
    labels = [i % 10 for i in range(60)]  # ten identities of six faces
    sampler = BalancedBatches(labels, batch_size=8, per_identity=2, seed=3)
    assert len(sampler) == 7
    first = math.ceil(10 / 4)
    for epoch in range(10):
        order = [labels[i] for b in _epoch(sampler, epoch)[:first] for i in b[::2]]
        assert sorted(order[:10]) == list(range(10)), order
        for batch in _epoch(sampler, epoch):  # and no batch ever holds an identity twice
            ids = [labels[i] for i in batch[::2]]
            assert len(set(ids)) == 4


def test_no_identity_waits_more_than_one_batch():
    # With 6 identities and 4 per batch every identity left out of one batch is in the next.
    sampler = BalancedBatches([i % 6 for i in range(96)], batch_size=8, per_identity=2, seed=4)
    batches = _epoch(sampler)
    assert len(batches) == 12
    drawn = [{i % 6 for i in b} for b in batches]
    assert all(a | b == set(range(6)) for a, b in zip(drawn, drawn[1:], strict=False))


def test_balanced_batches_are_seeded_by_seed_and_epoch():
    a = BalancedBatches(LABELS, 8, 2, seed=5)
    b = BalancedBatches(LABELS, 8, 2, seed=5)
    first = _epoch(a, 0)
    assert _epoch(b, 0) == first and list(a) == first
    assert _epoch(a, 1) != first and _epoch(b, 1) == _epoch(a, 1)
    assert list(BalancedBatches(LABELS, 8, 2, seed=6)) != first
    np.random.seed(0)
    assert _epoch(a, 0) == first


@pytest.mark.parametrize(
    "batch_size, per_identity, match",
    [
        (9, 2, "batch_size 9 must be a multiple of per_identity 2 >= 2"),
        (8, 1, "per_identity 1 >= 2"),
        (8, 0, "per_identity 0"),
        (14, 2, "balanced batches of 7 identities need as many; the data has 6"),
    ],
)
def test_bad_balanced_arguments_are_value_errors(batch_size, per_identity, match):
    with pytest.raises(ValueError, match=match):
        BalancedBatches(LABELS, batch_size, per_identity)


def test_unlabelled_faces_count_for_no_identity():
    with pytest.raises(ValueError, match="the data has 1"):
        BalancedBatches([-1, -1, -1, 0, 0], batch_size=4, per_identity=2)
    sampler = BalancedBatches([-1, 0, -1, 1, 1, 0, -1], batch_size=4, per_identity=2)
    assert len(sampler) == 1
    (batch,) = list(sampler)
    assert sorted(batch) == [1, 3, 4, 5]


def test_ours_makes_the_batches_pytorch_metric_learning_makes():
    samplers = pytest.importorskip("pytorch_metric_learning.samplers")
    labels = [y for y in LABELS if y >= 0]
    batch_size, m = 8, 2
    theirs = samplers.MPerClassSampler(labels, m=m, batch_size=batch_size, length_before_new_iter=5 * batch_size)
    flat = list(iter(theirs))
    their_batches = [flat[i : i + batch_size] for i in range(0, len(flat), batch_size)]
    ours = BalancedBatches(labels, batch_size, per_identity=m, seed=0)
    our_batches = [b for epoch in range(3) for b in _epoch(ours, epoch)]
    assert len(their_batches) == 5 and len(our_batches) == 6
    for batch in their_batches + our_batches:
        classes = [labels[i] for i in batch]
        assert len(batch) == batch_size and len(set(classes)) == batch_size // m
        assert all(classes.count(c) == m for c in set(classes))

    # Theirs draws from NumPy's global state (and shuffles its own label list in place): only reseeding that state
    # and building a new sampler replays their batches. Ours ignore it.
    def fresh():
        return list(iter(samplers.MPerClassSampler(labels, m=m, batch_size=batch_size, length_before_new_iter=40)))

    np.random.seed(1)
    replay = fresh()
    np.random.seed(1)
    assert fresh() == replay and fresh() != replay
    assert _epoch(ours, 0) == our_batches[:2]
