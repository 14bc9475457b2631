"""Frames per second of the synthetic video source on one core: ``python -m facebox.benchmarks.video_speed``.

Why measured: a tracking environment renders one frame per step, so the generator must stay well ahead of the
agent (target: >= 300 frames/s at 128x128). Clip construction (trajectories, face sprites) is timed separately
from rendering because an environment pays it once per episode.
"""

from __future__ import annotations

import argparse
import time

from facebox.envs.data.synthetic_video import SyntheticVideos

__all__ = ["measure"]


def measure(clips: int = 20, size: int = 128, frames: int = 60, seed: int = 0) -> dict[str, float]:
    """Build ``clips`` clips and render every frame once; return ms per clip and frames/s (render, overall)."""
    dataset = SyntheticVideos(seed=seed, size=size, frames=frames)
    start = time.perf_counter()
    sequences = [dataset[i] for i in range(clips)]
    built = time.perf_counter()
    for sequence in sequences:
        for t in range(len(sequence)):
            sequence.frame(t)
    done = time.perf_counter()
    n = clips * frames
    return {
        "ms_per_clip": 1000 * (built - start) / clips,
        "render_fps": n / (done - built),
        "overall_fps": n / (done - start),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    r = measure(args.clips, args.size, args.frames, args.seed)
    print(
        f"SyntheticVideos {args.size}x{args.size}, {args.clips} clips x {args.frames} frames: "
        f"{r['ms_per_clip']:.1f} ms/clip to build, {r['render_fps']:.0f} frames/s rendering, "
        f"{r['overall_fps']:.0f} frames/s overall"
    )


if __name__ == "__main__":
    main()
