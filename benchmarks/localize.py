"""The localization harness: run policies and detector baselines on the same images, tabulate, animate.

Every row of a table comes from the same images in the same order (a sweep over dataset indices, or a
seeded sample for the endless synthetic set), so agents, the oracle, the random policy and OpenCV's Haar
cascade are compared on equal terms.

    python -m facebox.benchmarks.localize --data "synthetic?seed=1" --policy oracle --policy random \
        --episodes 200 --out results/localize
    python -m facebox.benchmarks.localize --data wider:../shared/data/wider_face_val_subset \
        --policy oracle --policy random --policy haar --target any --out results/wider
"""

from __future__ import annotations

import argparse
import csv
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
from facebox.envs.policies import GreedyOracle, RandomPolicy

__all__ = ["Episode", "run_episodes", "summarize", "haar_detector", "write_table", "write_gif", "main"]

Policy = Callable[[gym.Env, dict], object]


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
    return {
        "policy": name,
        "episodes": len(episodes),
        "success@0.5": float(np.mean([e.success(0.5) for e in episodes])),
        "success@0.7": float(np.mean([e.success(0.7) for e in episodes])),
        "mean_iou": float(np.mean([e.iou for e in episodes])),
        "median_steps": float(np.median([e.steps for e in episodes])),
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


def write_gif(frames: list[np.ndarray], path: Path, fps: int = 4, size: int = 320) -> Path:
    """Letterbox frames of any size onto one ``size``-wide canvas and save an endlessly looping GIF."""
    import imageio.v3 as iio

    height = max(int(round(f.shape[0] * size / f.shape[1])) for f in frames)
    canvas = []
    for f in frames:
        h = int(round(f.shape[0] * size / f.shape[1]))
        out = np.zeros((height, size, 3), np.uint8)
        out[:h] = cv2.resize(f, (size, h), interpolation=cv2.INTER_AREA)
        canvas.append(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, np.stack(canvas), duration=1000 / fps, loop=0)
    return path


POLICIES: dict[str, Callable[[int], Policy]] = {
    "oracle": lambda seed: GreedyOracle(),
    "random": lambda seed: RandomPolicy(np.random.default_rng(seed)),
}
DETECTORS = {"haar": "haarcascade_frontalface_default.xml", "haar-cat": "haarcascade_frontalcatface.xml"}


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic?seed=1", help="dataset spec, e.g. wider:PATH")
    parser.add_argument("--policy", action="append", choices=[*POLICIES, *DETECTORS], help="repeatable")
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--target", default="any", choices=["largest", "random", "any"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gif-episodes", type=int, default=3, help="episodes of the first policy in a GIF")
    parser.add_argument("--out", type=Path, default=Path("results/localize"))
    args = parser.parse_args(argv)

    env = gym.make(
        "facebox/FaceLocalization-v0", config={"dataset": args.data, "target": args.target}, render_mode="rgb_array"
    )
    rows = []
    for k, name in enumerate(args.policy or ["oracle", "random"]):
        if name in DETECTORS:
            episodes, speed = run_detector(env, haar_detector(DETECTORS[name]), args.episodes, args.seed)
        else:
            record = args.gif_episodes if k == 0 else 0
            episodes, frames, speed = run_episodes(env, POLICIES[name](args.seed), args.episodes, args.seed, record)
            if frames:
                print(f"GIF: {write_gif(frames, args.out / f'{name}.gif')}")
        rows.append(summarize(name, episodes, speed))
    print(f"data: {args.data}  target: {args.target}")
    print(write_table(rows, args.out, "results"))
    return rows


if __name__ == "__main__":
    main()
