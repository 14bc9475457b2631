"""OTB one-pass evaluation scores against values worked out by hand on small box lists."""

from __future__ import annotations

import numpy as np
import pytest

from facebox.benchmarks.otb import ERROR_THRESHOLDS, IOU_THRESHOLDS, frame_errors, overall, score_sequence

GT = np.array([[10, 10, 20, 20]] * 4, dtype=np.float64)  # a 10 x 10 box on 4 frames


def test_thresholds_are_otbs():
    assert len(IOU_THRESHOLDS) == 21 and IOU_THRESHOLDS[1] == pytest.approx(0.05) and IOU_THRESHOLDS[-1] == 1
    assert ERROR_THRESHOLDS.tolist() == list(range(51))


def test_perfect_tracker_succeeds_below_threshold_one():
    s = score_sequence(GT, GT, seconds=2.0)
    assert s.success[:-1].tolist() == [1.0] * 20 and s.success[-1] == 0.0  # IoU 1 is not > 1
    assert s.auc == pytest.approx(20 / 21)
    assert s.precision.tolist() == [1.0] * 51 and s.precision_at_20 == 1.0
    assert s.fps == 2.0 and s.frames == 4


def test_constant_offset_gives_the_hand_computed_curves():
    # shifted 5 px right: IoU = 50 / 150 = 1/3, centre error 5 px
    s = score_sequence(GT + [5, 0, 5, 0], GT, seconds=1.0)
    assert s.success.tolist() == [1.0] * 7 + [0.0] * 14  # 1/3 > 0.00, 0.05, ..., 0.30 only
    assert s.auc == pytest.approx(7 / 21)
    assert s.precision.tolist() == [0.0] * 5 + [1.0] * 46
    assert s.precision_at_20 == 1.0


def test_mixed_frames_average_per_frame():
    boxes = GT.copy()
    boxes[2:] += [30, 0, 30, 0]  # two frames lost: IoU 0, centre error 30 px
    s = score_sequence(boxes, GT, seconds=1.0)
    assert s.success[0] == 0.5 and s.auc == pytest.approx(0.5 * 20 / 21)
    assert s.precision[29] == 0.5 and s.precision[30] == 1.0 and s.precision_at_20 == 0.5


def test_frames_without_ground_truth_are_left_out():
    gt = np.concatenate([GT, np.full((3, 4), np.nan)])
    boxes = np.concatenate([GT, [[100, 100, 110, 110]] * 3])
    s = score_sequence(boxes, gt, seconds=7.0)
    assert s.frames == 4 and s.auc == pytest.approx(20 / 21) and s.precision_at_20 == 1.0
    assert s.fps == 1.0  # the tracker still spent its time on 7 frames


def test_a_missing_box_fails_every_threshold():
    boxes = GT.copy()
    boxes[0] = np.nan
    ious, errors = frame_errors(boxes, GT)
    assert np.isnan(ious[0]) and np.isnan(errors[0])
    s = score_sequence(boxes, GT, seconds=1.0)
    assert s.success[0] == 0.75 and s.precision[50] == 0.75


def test_overall_weighs_sequences_equally():
    long = score_sequence(GT.repeat(10, axis=0), GT.repeat(10, axis=0), seconds=4.0)  # 40 frames, 10 fps
    short = score_sequence(GT[:1] + [5, 0, 5, 0], GT[:1], seconds=1.0)  # 1 frame, 1 fps
    total = overall([long, short])
    np.testing.assert_allclose(total.success, (long.success + short.success) / 2)
    assert total.auc == pytest.approx((20 / 21 + 7 / 21) / 2)
    assert total.fps == pytest.approx(5.5) and total.frames == 41


@pytest.mark.parametrize(
    ("boxes", "gt", "seconds", "match"),
    [
        (GT[:3], GT, 1.0, "must both be \\[T, 4\\]"),
        (GT, GT, 0.0, "positive"),
        (GT, np.full((4, 4), np.nan), 1.0, "no frame with a ground-truth box"),
    ],
)
def test_bad_input_is_a_clear_error(boxes, gt, seconds, match):
    with pytest.raises(ValueError, match=match):
        score_sequence(boxes, gt, seconds)
    with pytest.raises(ValueError, match="no sequence"):
        overall([])
