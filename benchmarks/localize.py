"""The localization harness: run policies and detector baselines on the same images, tabulate, animate.

Every row of a table comes from the same images in the same order (a sweep over dataset indices, or a
seeded sample for the endless synthetic set), so agents, the oracle, the random policy and OpenCV's Haar
cascade are compared on equal terms. A trained agent is a policy ``model:PATH`` (a ``.zip`` saved by
``facebox.agents.train``): it runs in an env rebuilt from its run's ``config.yml`` (the observation it was trained
on) over the same images.

    python -m facebox.benchmarks.localize --data "synthetic?seed=1" --policy oracle --policy random \
        --episodes 200 --out results/localize
    python -m facebox.benchmarks.localize --data wider:../shared/data/wider_face_val_subset \
        --policy model:runs/RUN/final_model.zip --policy oracle --policy random --policy haar --target any
    python -m facebox.benchmarks.localize --real-sets --policy model:runs/RUN/final_model.zip --policy oracle \
        --policy random --policy haar      # every shared real set, one table; haar is the cat cascade on cats

Metrics: ``success@τ`` — the policy *triggered* with IoU ≥ τ (a box that merely overlaps the face when the step
limit cuts the episode off is not a success); ``mean_iou`` of the final box (credits near misses);
``median_steps`` (truncated episodes count the step limit; Caicedo report a median of 11 per detection on VOC);
``trigger_rate``; ``policy_steps_per_s``, the policy's own decision speed.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import gymnasium as gym
import numpy as np

import facebox  # noqa: F401  (registers the environments)
from facebox.envs.boxes import iou
from facebox.envs.data import FaceImage
from facebox.envs.data.sources import STILL_FORMATS, parse_spec
from facebox.envs.policies import GreedyOracle, RandomPolicy

__all__ = [
    "Episode",
    "Policy",
    "run_episodes",
    "summarize",
    "haar_detector",
    "run_detector",
    "make_policy",
    "localization_env",
    "write_table",
    "write_animation",
    "main",
]

Policy = Callable[[gym.Env, dict], object]
"""``policy(env, obs) -> action``; reference policies read the (unwrapped) env, agents the observation."""
THRESHOLDS = (0.5, 0.7)


@dataclass
class Episode:
    iou: float  # IoU of the final box with the best-matching target face
    triggered: bool
    steps: int

    def success(self, threshold: float) -> bool:
        """A detection counts only if the agent committed to it (triggered) with IoU >= threshold."""
        return self.triggered and self.iou >= threshold


def _indices(env: gym.Env, episodes: int) -> list[int | None]:
    """A sweep over a finite real set (each image once, in order); seeded sampling for the synthetic one."""
    n = len(env.unwrapped.dataset)
    return list(range(min(n, episodes))) if n <= 10 * episodes else [None] * episodes


def run_episodes(
    env: gym.Env, policy: Policy, episodes: int, seed: int = 0, record: int = 0
) -> tuple[list[Episode], list[np.ndarray], float]:
    """Roll out ``policy(env, obs) -> action``; returns episodes, rendered frames of the first ``record``
    episodes (the env needs ``render_mode="rgb_array"`` for those) and the policy's steps per second.
    """
    results, frames, steps, seconds = [], [], 0, 0.0
    for k, index in enumerate(_indices(env, episodes)):
        options = {} if index is None else {"index": index}
        obs, info = env.reset(seed=seed + k, options=options)
        if k < record:
            frames.append(env.render())
        terminated = truncated = False
        n = 0
        while not (terminated or truncated):
            start = time.perf_counter()
            action = policy(env, obs)
            seconds += time.perf_counter() - start
            obs, _, terminated, truncated, info = env.step(action)
            n += 1
            if k < record:
                frames.append(env.render())
        steps += n
        results.append(Episode(iou=info["iou"], triggered=bool(terminated), steps=n))
    return results, frames, steps / max(seconds, 1e-9)


def summarize(name: str, episodes: list[Episode], speed: float) -> dict[str, object]:
    if not episodes:
        raise ValueError(f"{name}: no episodes to summarize")
    return {
        "policy": name,
        "episodes": len(episodes),
        **{f"success@{t}": float(np.mean([e.success(t) for e in episodes])) for t in THRESHOLDS},
        "mean_iou": float(np.mean([e.iou for e in episodes])),
        "median_steps": float(np.median([e.steps for e in episodes])),
        "trigger_rate": float(np.mean([e.triggered for e in episodes])),
        "policy_steps_per_s": speed,
    }


def haar_detector(cascade: str) -> Callable[[FaceImage], np.ndarray | None]:
    """OpenCV's Haar cascade (from ``cv2.data.haarcascades``) returning its most confident box, or None."""
    path = Path(cv2.data.haarcascades) / cascade
    classifier = cv2.CascadeClassifier(str(path))
    if classifier.empty():
        raise FileNotFoundError(f"{path}: Haar cascade not found in this OpenCV build")

    def detect(record: FaceImage) -> np.ndarray | None:
        gray = cv2.cvtColor(record.image, cv2.COLOR_RGB2GRAY)
        boxes, _, weights = classifier.detectMultiScale3(gray, outputRejectLevels=True)
        if len(boxes) == 0:
            return None
        x, y, w, h = boxes[int(np.argmax(np.ravel(weights)))]
        return np.array([x, y, x + w, y + h], dtype=np.float64)

    return detect


def run_detector(env: gym.Env, detect: Callable, episodes: int, seed: int = 0) -> tuple[list[Episode], float]:
    """Score a one-shot detector on the images the policies see (same sweep, same target choice)."""
    results, seconds = [], 0.0
    for k, index in enumerate(_indices(env, episodes)):
        env.reset(seed=seed + k, options={} if index is None else {"index": index})
        base = env.unwrapped
        start = time.perf_counter()
        box = detect(base.record)
        seconds += time.perf_counter() - start
        score = 0.0 if box is None else float(iou(box, base.targets).max())
        results.append(Episode(iou=score, triggered=box is not None, steps=1))
    return results, len(results) / max(seconds, 1e-9)


def write_table(rows: list[dict[str, object]], out_dir: Path, name: str) -> str:
    """Write ``name.csv`` and ``name.md``; return the Markdown."""
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = list(rows[0])
    with open(out_dir / f"{name}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)

    def fmt(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) and not float(v).is_integer() else str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(row[k]) for k in keys) + " |" for row in rows]
    markdown = "\n".join(lines) + "\n"
    (out_dir / f"{name}.md").write_text(markdown)
    return markdown


def write_animation(frames: list[np.ndarray], path: Path, fps: int = 4, size: int = 320) -> Path:
    """Letterbox frames of any size onto one ``size``-wide canvas; an endlessly looping ``.gif`` or an ``.mp4``."""
    import imageio.v3 as iio

    path = Path(path)
    if not frames:
        raise ValueError(f"{path}: no frames to write")
    if path.suffix not in (".gif", ".mp4"):
        raise ValueError(f"{path}: animation must end in .gif or .mp4")
    height = max(int(round(f.shape[0] * size / f.shape[1])) for f in frames)
    height += height % 2  # H.264 needs even sides
    canvas = np.zeros((len(frames), height, size, 3), np.uint8)
    for i, f in enumerate(frames):
        h = int(round(f.shape[0] * size / f.shape[1]))
        canvas[i, :h] = cv2.resize(f, (size, h), interpolation=cv2.INTER_AREA)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gif":
        iio.imwrite(path, canvas, duration=1000 / fps, loop=0)
    else:
        iio.imwrite(path, canvas, fps=fps, codec="libx264")
    return path


POLICIES: dict[str, Callable[[int], Policy]] = {
    "oracle": lambda seed: GreedyOracle(),
    "random": lambda seed: RandomPolicy(np.random.default_rng(seed)),
}
DETECTORS = {"haar": "haarcascade_frontalface_default.xml", "haar-cat": "haarcascade_frontalcatface.xml"}
# The real still-image sets of the shared data folder (``--real-sets``): spec under the folder, and the Haar
# cascade for their faces (``haar`` runs the cat cascade on the cat set).
REAL_SETS = {
    "wider": ("wider:{root}/wider_face_val_subset/boxes_416x416.txt?images=images", "haar"),
    "pascal": ("dlib:{root}/dlib_pascal_faces/training.xml", "haar"),
    "landmarks": (
        "csv:{root}/face_landmark_samples/DERIVED_face_boxes.tsv?columns=image,width,height,n,x0,y0,x1,y1,how,note",
        "haar",
    ),
    "cats": ("voc:{root}/cat_faces_orienfish?classes=cat_face", "haar-cat"),
}


def real_sets(root: Path) -> list[tuple[str, str, str]]:
    """``(name, spec, cascade)`` of each set of :data:`REAL_SETS` present under ``root``."""
    found = []
    for name, (spec, cascade) in REAL_SETS.items():
        spec = spec.format(root=root)
        if Path(parse_spec(spec, STILL_FORMATS)[1]).exists():
            found.append((name, spec, cascade))
    if not found:
        raise FileNotFoundError(f"{root}: none of the real sets {sorted(REAL_SETS)} found there")
    return found


def make_policy(name: str, data: str, target: str, seed: int = 0, render: bool = False) -> tuple[gym.Env, Policy]:
    """The env and policy for a row: ``oracle``/``random`` in the default localization env, ``model:PATH`` in
    the env its run was trained with (torch is imported only then).
    """
    if name.startswith("model:"):
        from facebox.agents.evaluate import load_run, make_eval_env, model_policy

        model, config = load_run(name.removeprefix("model:"))
        return make_eval_env(config, data, target, render=render), model_policy(model)
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; expected one of {[*POLICIES, 'model:PATH']}")
    return localization_env(data, target, render), POLICIES[name](seed)


def localization_env(data: str, target: str, render: bool = False) -> gym.Env:
    """The default localization env on ``data``, scoring against ``target`` faces."""
    config = {"dataset": data, "target": target}
    return gym.make("facebox/FaceLocalization-v0", config=config, render_mode="rgb_array" if render else None)


def _policy_name(value: str) -> str:
    if value in POLICIES or value in DETECTORS or value.startswith("model:"):
        return value
    raise argparse.ArgumentTypeError(f"expected one of {[*POLICIES, *DETECTORS]} or model:PATH, got {value!r}")


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", action="append", help="repeatable dataset spec, e.g. wider:PATH (default synthetic?seed=1)"
    )
    parser.add_argument(
        "--real-sets",
        type=Path,
        nargs="?",
        const=Path(os.environ.get("FACEBOX_SHARED_DATA", "../shared/data")),
        help="also every real still-image set in this folder ($FACEBOX_SHARED_DATA or ../shared/data)",
    )
    parser.add_argument(
        "--policy",
        action="append",
        type=_policy_name,
        help=f"repeatable: {', '.join([*POLICIES, *DETECTORS])}, model:PATH",
    )
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--target", default="any", choices=["largest", "random", "any"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gif-episodes", type=int, default=3, help="episodes of the first policy to animate")
    parser.add_argument("--video", choices=("gif", "mp4"), default="gif")
    parser.add_argument("--out", type=Path, default=Path("results/localize"))
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes must be >= 1, got {args.episodes}")

    sets = [(spec, spec, "haar") for spec in args.data or ([] if args.real_sets else ["synthetic?seed=1"])]
    sets += real_sets(args.real_sets) if args.real_sets else []
    rows = []
    for i, (data, spec, cascade) in enumerate(sets):
        for k, name in enumerate(args.policy or ["oracle", "random"]):
            record = args.gif_episodes if i == k == 0 else 0
            if name in DETECTORS:
                name = cascade if name == "haar" else name
                env = localization_env(spec, args.target)
                episodes, speed = run_detector(env, haar_detector(DETECTORS[name]), args.episodes, args.seed)
            else:
                env, policy = make_policy(name, spec, args.target, args.seed, render=record > 0)
                episodes, frames, speed = run_episodes(env, policy, args.episodes, args.seed, record)
                if frames:
                    stem = "model" if name.startswith("model:") else name
                    print(f"animation: {write_animation(frames, args.out / f'{stem}.{args.video}')}")
            rows.append({"data": data, **summarize(name.removeprefix("model:"), episodes, speed)})
    print(f"target: {args.target}")
    print(write_table(rows, args.out, "results"))
    return rows


if __name__ == "__main__":
    main()
