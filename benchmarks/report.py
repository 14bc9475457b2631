"""Reports of the harness: tables as Markdown (for the terminal and the README) plus CSV (for scripts and plots),
each row also in TensorBoard as soon as it is measured (:class:`Table`), progress bars for the sweeps, and episode
animations (a GIF that plays in any browser or issue, or an MP4 for long recordings).
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from numbers import Real
from pathlib import Path

import cv2
import numpy as np
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

__all__ = ["progress", "Table", "write_table", "mean_std_table", "write_animation"]


def progress(desc: str, unit: str = "episode") -> Callable[[Iterable], Iterable]:
    """A bar with a rate and an ETA around a sweep (the ``progress`` hook of :mod:`facebox.envs.rollout`)."""
    return functools.partial(tqdm, desc=desc, unit=unit, leave=False)


class Table:
    """A report's rows: each goes to TensorBoard when it is added (``OUT/tensorboard``, tags
    ``NAME/LABEL/metric`` with LABEL from the ``label`` columns), so a long benchmark shows its numbers as it goes;
    :meth:`write` then writes the table (:func:`write_table`)."""

    def __init__(self, out_dir: Path, name: str, label: Sequence[str]) -> None:
        self.out_dir, self.name, self.label = Path(out_dir), name, tuple(label)
        self.rows: list[dict[str, object]] = []
        self.writer = SummaryWriter(str(self.out_dir / "tensorboard"))

    def add(self, row: dict[str, object]) -> dict[str, object]:
        label = "/".join(re.sub(r"[^\w.@-]+", "_", str(row[k])) for k in self.label)
        for key, value in row.items():
            if isinstance(value, Real) and not isinstance(value, bool):
                self.writer.add_scalar(f"{self.name}/{label}/{key}", value, len(self.rows))
        self.writer.flush()
        self.rows.append(row)
        return row

    def write(self) -> str:
        self.writer.close()
        return write_table(self.rows, self.out_dir, self.name)


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


def mean_std_table(rows: Sequence[dict], group: str, columns: dict[str, str]) -> str:
    """Markdown with a line per value of ``group`` (in first-seen order): the number of rows (seeds) and each
    column (key -> header) as mean ± std over them, the form every learning claim here is stated in."""
    lines = [f"| {group} | seeds | " + " | ".join(columns.values()) + " |", "|---" * (len(columns) + 2) + "|"]
    for name in dict.fromkeys(row[group] for row in rows):
        mine = [row for row in rows if row[group] == name]
        cells = [f"{np.mean([r[k] for r in mine]):.3f} ± {np.std([r[k] for r in mine]):.3f}" for k in columns]
        lines.append(f"| {name} | {len(mine)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
