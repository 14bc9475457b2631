"""Reports of the harness: tables as Markdown (for the terminal and the README) plus CSV (for scripts and plots),
and episode animations (a GIF that plays in any browser or issue, or an MP4 for long recordings).
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

__all__ = ["write_table", "write_animation"]


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
