"""The supervised detection head as a one-shot detector beside the agents and Haar: ``detect(record) -> box``.

It starts where an agent's episode starts, from the whole image (a square of the image's long side, centred, the
outside black as :func:`~facebox.perception.data.face_crop` pads it), reads the face box off the head's offsets,
then re-centres a window on that box grown by the training context (the crop the head was trained to refine) and
reads again, a fixed number of ``rounds``: each window then sees the face larger, so the box sharpens, as the
agent's moves do, but without learning when to stop.

It always returns a box, even when the face logit says "no face": every measured image has a face, and the agent
is scored on every image too (an untriggered episode scores 0), so abstaining could only lower this row; a
detector that abstained on a doubtful logit would be tuned on the measuring sets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from facebox.envs.data import FaceImage
from facebox.perception.dann import decode_offsets, square_window
from facebox.perception.data import face_crop
from facebox.perception.detection import load_detector

__all__ = ["supervised_detector"]


def supervised_detector(
    checkpoint: str | Path, rounds: int = 3, threads: int = 1
) -> Callable[[FaceImage], np.ndarray | None]:
    """The ``detect`` checkpoint at ``checkpoint`` as ``detect(record) -> xyxy float64 box`` (in the image,
    clipped to it), refined over ``rounds`` windows after the whole image, with ``threads`` torch threads."""
    if rounds < 0 or threads < 1:
        raise ValueError(f"supervised_detector needs rounds >= 0 and threads >= 1, got {rounds} and {threads}")
    detector = load_detector(checkpoint)
    size, context = detector.backbone.shape[1], float(detector.backbone.info["context"])

    def detect(record: FaceImage) -> np.ndarray | None:
        width, height = record.width, record.height
        window = square_window(width / 2, height / 2, max(width, height))
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            with torch.no_grad():
                for step in range(rounds + 1):
                    pixels, _ = face_crop(record.image, window.tolist(), size, context=0.0)
                    _, offsets = detector.predict(pixels[None])
                    box = decode_offsets(offsets[0], window)
                    if step < rounds:
                        (x0, y0), (x1, y1) = box[:2].tolist(), box[2:].tolist()
                        side = max(x1 - x0, y1 - y0) * (1 + 2 * context)
                        window = square_window((x0 + x1) / 2, (y0 + y1) / 2, side)
        finally:
            torch.set_num_threads(previous)
        return np.clip(box.double().numpy(), 0, [width, height, width, height])

    return detect
