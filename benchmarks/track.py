"""The tracking harness: run trackers over video sequences, score them with OTB's one-pass evaluation, tabulate
and plot.

Every tracker starts on the first annotated frame of each sequence from its ground truth and runs to the last
frame (OTB's one-pass evaluation); scores are those of :mod:`facebox.benchmarks.otb`. Trackers: OpenCV's ``kcf``,
``csrt``, ``mil``, ``mosse``, ``medianflow``; the greedy IoU ``oracle`` (reads the ground truth: the ceiling of the
tracking env's action set); ``model:PATH``, a model of a ``facebox.agents.train`` or RL Zoo run driving the tracking
env. The oracle and models run through ``facebox/FaceTracking-v0`` in eval mode, configured by ``--config`` (YAML, the
env's config keys) on top of, for a model, its run's env config (the observation it was trained with).

    python -m facebox.benchmarks.track --data otb:../shared/data/otb_face_sequences \
        --tracker kcf --tracker csrt --tracker oracle --out results/track
    python -m facebox.agents.train --algo ppo --env facebox/FaceTracking-v0
    python -m facebox.benchmarks.track --data "synthetic?length=20" --tracker oracle \
        --tracker model:runs/RUN/final_model.zip --out results/track-synthetic
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import cv2
import numpy as np
import yaml

from facebox.benchmarks.otb import ERROR_THRESHOLDS, IOU_THRESHOLDS, Scores, overall, score_sequence
from facebox.benchmarks.report import Table, progress
from facebox.config import ConfigError
from facebox.envs.boxes import xywh_to_xyxy
from facebox.envs.data.sources import open_video_dataset
from facebox.envs.data.video import SequenceList, VideoDataset, VideoSequence
from facebox.envs.policies import GreedyOracle
from facebox.envs.rollout import Policy
from facebox.envs.tracking import FaceTrackingEnv
from facebox.runs import load_run_config

__all__ = [
    "OPENCV_TRACKERS",
    "Tracker",
    "opencv_tracker",
    "env_tracker",
    "make_tracker",
    "evaluate",
    "plot_curves",
    "main",
]

# (sequence, start frame) -> boxes [T, 4] xyxy: the ground truth on ``start``, NaN before it.
Tracker = Callable[[VideoSequence, int], np.ndarray]

OPENCV_TRACKERS: dict[str, Callable[[], object]] = {
    "kcf": cv2.TrackerKCF_create,
    "csrt": cv2.TrackerCSRT_create,
    "mil": cv2.TrackerMIL_create,
    "mosse": cv2.legacy.TrackerMOSSE_create,
    "medianflow": cv2.legacy.TrackerMedianFlow_create,
}


class _Clocked(VideoSequence):
    """A sequence, cut to its first ``max_frames``, that clocks its own frame decoding, so that a tracker's speed
    excludes it (got10k decodes each frame before starting the clock).
    """

    def __init__(self, sequence: VideoSequence, max_frames: int | None = None) -> None:
        self.inner = sequence
        self.name = sequence.name
        self.boxes = np.asarray(sequence.boxes, dtype=np.float32)[:max_frames]
        self.decoding = 0.0

    def _read(self, index: int) -> np.ndarray:
        start = time.perf_counter()
        frame = self.inner.frame(index)
        self.decoding += time.perf_counter() - start
        return frame


def _init_rect(box: np.ndarray, frame: np.ndarray) -> tuple[int, int, int, int]:
    """The box clipped to the frame as OpenCV's integer ``x, y, w, h`` (ground truth may cross the edge)."""
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = np.round(np.clip(box, 0, [w, h, w, h])).astype(int)
    return int(x1), int(y1), max(int(x2 - x1), 1), max(int(y2 - y1), 1)


def opencv_tracker(create: Callable[[], object]) -> Tracker:
    """An OpenCV tracker (``create()`` returns a fresh one): BGR frames, integer ``x, y, w, h`` rectangles. When its
    update fails on a frame it keeps the last box, so every frame gets a box, as OTB's protocol expects.
    """

    def track(sequence: VideoSequence, start: int) -> np.ndarray:
        boxes = np.full((len(sequence), 4), np.nan)
        boxes[start] = sequence.boxes[start]
        tracker = create()
        first = sequence.frame(start)
        tracker.init(cv2.cvtColor(first, cv2.COLOR_RGB2BGR), _init_rect(boxes[start], first))
        for i in range(start + 1, len(sequence)):
            ok, rect = tracker.update(cv2.cvtColor(sequence.frame(i), cv2.COLOR_RGB2BGR))
            boxes[i] = xywh_to_xyxy(np.asarray(rect, dtype=np.float64)) if ok else boxes[i - 1]
        return boxes

    return track


def env_tracker(policy: Policy, env_config: Mapping) -> Tracker:
    """Drive ``facebox/FaceTracking-v0`` in eval mode over the sequence with ``policy(env, obs) -> action``; the
    result is the env's ``track`` at the end of the episode.
    """

    def track(sequence: VideoSequence, start: int) -> np.ndarray:
        dataset = SequenceList([sequence], sequence.name)
        env = FaceTrackingEnv(config={**env_config, "dataset": dataset, "mode": "eval"})
        obs, info = env.reset(options={"index": 0, "start": start})
        terminated = False
        while not terminated:
            obs, _, terminated, _, info = env.step(policy(env, obs))
        boxes = np.full((len(sequence), 4), np.nan)
        boxes[start:] = env.track  # the start frame's box, then every later frame's
        return boxes

    return track


def _trained_env_config(path: str) -> dict:
    """The env config the model's run trained with (:func:`facebox.runs.load_run_config`), without the data and mode
    the runner sets.
    """
    trained = (load_run_config(path)[0]["hyperparams"].get("env_kwargs") or {}).get("config") or {}
    return {k: v for k, v in trained.items() if k not in ("dataset", "mode")}


def _model_policy(path: str, dataset: VideoDataset, env_config: Mapping) -> Policy:
    """The run's model (loaded as its config's algo, like every run's model) as a policy on the env of
    ``env_config``; torch is imported only here."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    from facebox.agents.models import load_run, model_policy

    probe = FaceTrackingEnv(config={**env_config, "dataset": dataset, "mode": "eval"})
    try:  # loading with an env makes SB3 check that the model's spaces match the env's
        model, _ = load_run(path, env=DummyVecEnv([lambda: probe]))
    except ConfigError:
        raise
    except ValueError as e:
        raise ValueError(f"model {path} does not fit the tracking env configured by --config: {e}") from None
    return model_policy(model)


def make_tracker(spec: str, dataset: VideoDataset, env_config: Mapping | None = None) -> Tracker:
    """A tracker by name: an OpenCV one, ``oracle``, or ``model:PATH``."""
    env_config = dict(env_config or {})
    if spec.startswith("model:"):
        path = spec.removeprefix("model:")
        env_config = {**_trained_env_config(path), **env_config}
        return env_tracker(_model_policy(path, dataset, env_config), env_config)
    if spec == "oracle":
        oracle = GreedyOracle()
        return env_tracker(lambda env, obs: oracle(env), env_config)
    if spec not in OPENCV_TRACKERS:
        raise ValueError(f"unknown tracker {spec!r}; expected one of {[*OPENCV_TRACKERS, 'oracle', 'model:PATH']}")
    return opencv_tracker(OPENCV_TRACKERS[spec])


def evaluate(
    tracker: Tracker, dataset: VideoDataset, max_frames: int | None = None, name: str = "tracker"
) -> dict[str, Scores]:
    """Scores of each sequence (by name), the tracker started on its first annotated frame."""
    results = {}
    for index in progress(name, unit="sequence")(range(len(dataset))):
        sequence = _Clocked(dataset[index], max_frames)
        annotated = np.flatnonzero(np.isfinite(sequence.boxes).all(axis=1))
        if len(annotated) == 0:
            raise ValueError(f"sequence {sequence.name!r}: no annotated frame to start tracking from")
        clock = time.perf_counter()
        boxes = tracker(sequence, int(annotated[0]))
        seconds = time.perf_counter() - clock - sequence.decoding
        results[sequence.name] = score_sequence(boxes, sequence.boxes, seconds)
    return results


def plot_curves(scores: Mapping[str, Scores], out_dir: Path) -> list[Path]:
    """``success.png`` and ``precision.png``: one curve per tracker, its AUC / P@20 in the legend."""
    from matplotlib.figure import Figure

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, x, curve, score, xlabel, ylabel in (
        ("success", IOU_THRESHOLDS, "success", "auc", "IoU threshold", "success rate"),
        ("precision", ERROR_THRESHOLDS, "precision", "precision_at_20", "centre error threshold (px)", "precision"),
    ):
        figure = Figure(figsize=(5, 4), layout="constrained")
        ax = figure.subplots()
        for tracker, s in scores.items():
            short = tracker if len(tracker) <= 40 else "..." + tracker[-37:]  # model paths would squeeze the axes
            ax.plot(x, getattr(s, curve), label=f"{short} [{getattr(s, score):.3f}]")
        ax.set(xlabel=xlabel, ylabel=ylabel, xlim=(x[0], x[-1]), ylim=(0, 1.02), title=f"{name.capitalize()} (OPE)")
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
        paths.append(out_dir / f"{name}.png")
        figure.savefig(paths[-1], dpi=120)
    return paths


def _row(scores: Scores) -> dict[str, object]:
    return {"frames": scores.frames, "auc": scores.auc, "p@20": scores.precision_at_20, "fps": scores.fps}


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="video spec, e.g. otb:PATH or synthetic")
    parser.add_argument(
        "--tracker", action="append", help=f"repeatable: {', '.join(OPENCV_TRACKERS)}, oracle, model:PATH"
    )
    parser.add_argument("--max-frames", type=int, default=None, help="track only the first N frames of each")
    parser.add_argument("--config", type=Path, default=None, help="YAML config of the tracking env (oracle, models)")
    parser.add_argument("--out", type=Path, default=Path("results/track"))
    args = parser.parse_args(argv)
    if args.max_frames is not None and args.max_frames < 2:
        parser.error(f"--max-frames must be at least 2 (a start frame and one to track), got {args.max_frames}")
    env_config = yaml.safe_load(args.config.read_text()) if args.config else {}
    if not isinstance(env_config, dict):
        parser.error(f"--config {args.config}: expected a mapping of env config keys, got {type(env_config).__name__}")

    dataset = open_video_dataset(args.data)
    per_sequence, totals = Table(args.out, "sequences", ["tracker", "sequence"]), {}
    overall_table = Table(args.out, "overall", ["tracker"])
    for name in args.tracker or ["kcf", "oracle"]:
        scores = evaluate(make_tracker(name, dataset, env_config), dataset, args.max_frames, name)
        for seq, s in scores.items():
            per_sequence.add({"tracker": name, "sequence": seq, **_row(s)})
        totals[name] = overall(list(scores.values()))
        overall_table.add({"tracker": name, "sequences": len(dataset), **_row(totals[name])})
    print(f"data: {args.data}  max frames: {args.max_frames or 'all'}")
    print(per_sequence.write())
    print(overall_table.write())
    for path in plot_curves(totals, args.out):
        print(f"plot: {path}")
    return overall_table.rows


if __name__ == "__main__":
    main()
