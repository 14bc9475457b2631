"""OTB one-pass evaluation (OPE) scores, computed as the got10k toolkit's ``ExperimentOTB`` does (numpy).

Per sequence: the success curve is the fraction of frames whose IoU with the ground truth exceeds each threshold in
``linspace(0, 1, 21)``, its mean is the AUC (success score); the precision curve is the fraction of frames whose
centre error is at most each of 0..50 px, and its value at 20 px is the precision score. Over a set of sequences,
the curves are the mean of the per-sequence curves (each sequence weighs the same, whatever its length), and the
speed is the mean of the per-sequence speeds.

Conventions, checked against the toolkit: the first frame counts (got10k sets the tracker's first box to the ground
truth, IoU 1; our runner starts trackers from it likewise); frames whose ground truth is NaN (target absent or not
annotated) are left out, as got10k's LaSOT/UAV123 experiments do; a NaN predicted box (a tracker that gave no
answer) fails every threshold. Speed is frames per second over the tracker's own time, frame decoding excluded as
in got10k; unlike got10k, which averages ``1 / t`` over frames, it is frames divided by total time, so one
near-instant frame cannot inflate it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facebox.envs.boxes import center_error, iou

__all__ = ["IOU_THRESHOLDS", "ERROR_THRESHOLDS", "Scores", "frame_errors", "score_sequence", "overall"]

IOU_THRESHOLDS = np.linspace(0.0, 1.0, 21)
ERROR_THRESHOLDS = np.arange(51, dtype=np.float64)


@dataclass(frozen=True)
class Scores:
    """Success and precision curves of one sequence (or the mean over several), speed and scored frames."""

    success: np.ndarray  # [21]: fraction of frames with IoU > IOU_THRESHOLDS[k]
    precision: np.ndarray  # [51]: fraction of frames with centre error <= ERROR_THRESHOLDS[k] px
    fps: float
    frames: int

    @property
    def auc(self) -> float:
        return float(np.mean(self.success))

    @property
    def precision_at_20(self) -> float:
        return float(self.precision[20])


def frame_errors(boxes: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IoU and centre error (px) of each frame that has a ground truth; boxes are xyxy ``[T, 4]``."""
    boxes, gt = np.asarray(boxes, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if boxes.shape != gt.shape or gt.ndim != 2 or gt.shape[1] != 4:
        raise ValueError(f"tracked boxes {boxes.shape} and ground truth {gt.shape} must both be [T, 4]")
    annotated = np.isfinite(gt).all(axis=1)
    boxes, gt = boxes[annotated], gt[annotated]
    ious = np.array([iou(b, g)[0, 0] for b, g in zip(boxes, gt, strict=True)], dtype=np.float64)
    return ious, center_error(boxes, gt)


def score_sequence(boxes: np.ndarray, gt: np.ndarray, seconds: float) -> Scores:
    """Scores of one tracked sequence; ``seconds`` is the tracker's time for the frames it gave a box for."""
    if not seconds > 0:
        raise ValueError(f"tracking time must be positive, got {seconds!r} s")
    ious, errors = frame_errors(boxes, gt)
    if len(ious) == 0:
        raise ValueError("the sequence has no frame with a ground-truth box: nothing to score")
    tracked = int(np.isfinite(np.asarray(boxes, dtype=np.float64)).all(axis=1).sum())
    return Scores(
        success=(ious[:, None] > IOU_THRESHOLDS).mean(axis=0),
        precision=(errors[:, None] <= ERROR_THRESHOLDS).mean(axis=0),
        fps=tracked / seconds,
        frames=len(ious),
    )


def overall(scores: Sequence[Scores]) -> Scores:
    """The set's scores: per-sequence curves and speeds averaged, frames summed."""
    if not scores:
        raise ValueError("no sequence scores to average")
    return Scores(
        success=np.mean([s.success for s in scores], axis=0),
        precision=np.mean([s.precision for s in scores], axis=0),
        fps=float(np.mean([s.fps for s in scores])),
        frames=sum(s.frames for s in scores),
    )
