"""Images per second of the synthetic face generator on one core, against the 1,000 images/s target at 128 px.

The generator feeds RL environments that reset constantly, so it must not be the bottleneck: one core should
produce at least 1,000 images/s at 128x128. OpenCV is pinned to one thread here (only here: the library leaves
threading to its caller) so the number is per core.

    python -m facebox.benchmarks.synthetic_speed [--seconds 2]
"""

from __future__ import annotations

import argparse
import time

import cv2

from facebox.envs.data.synthetic import SyntheticFaces

__all__ = ["TARGET", "images_per_second", "main"]

TARGET = 1000.0  # images/s at 128x128 on one core


def images_per_second(size: int, seconds: float, max_faces: int = 1) -> float:
    """Generate distinct images (fresh indices, so no cache helps) for about ``seconds``."""
    ds = SyntheticFaces(seed=0, size=size, max_faces=max_faces)
    ds[0]  # build the noise bank and identity cache outside the timing
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        ds[n + 1]
        n += 1
    return n / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time spent per image size")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    print(f"{'size':>6} {'faces':>6} {'images/s':>10}")
    rates = {}
    for size in (64, 128, 256):
        rates[size] = images_per_second(size, args.seconds)
        print(f"{size:>6} {1:>6} {rates[size]:>10.0f}")
    print(f"{128:>6} {'1..4':>6} {images_per_second(128, args.seconds, max_faces=4):>10.0f}")
    verdict = "meets" if rates[128] >= TARGET else "MISSES"
    print(f"128x128: {rates[128]:.0f} images/s {verdict} the {TARGET:.0f} images/s target")


if __name__ == "__main__":
    main()
