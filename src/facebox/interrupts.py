"""Ctrl-C and SIGTERM as a request to stop at the next consistent point, not as an exception anywhere.

A ``KeyboardInterrupt`` can land in the middle of an optimizer step or a half-collected rollout, where no
checkpoint would be resumable. While :func:`catch_signals` is active, the first SIGINT or SIGTERM only sets a
flag; training polls it (:func:`stop_requested`) where its state is whole — between SB3 steps, between warm-start
minibatches — and stops there so that the training loop (:mod:`facebox.agents.train`, and perception's trainer)
can write a checkpoint. A second signal interrupts at once, as a user pressing Ctrl-C twice expects; checkpoint
files are written atomically, so that cannot leave a truncated one. It sits with the shared helpers because every
layer that trains needs it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["StopRequested", "TrainingInterrupted", "catch_signals", "stop_requested"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_caught: list[int] = []  # the signal numbers received while catch_signals is active


class StopRequested(Exception):
    """Raised by long phases that poll :func:`stop_requested` outside the loop that checks for it (the warm start
    inside an SB3 callback), to unwind to the code that saves the checkpoint."""


class TrainingInterrupted(KeyboardInterrupt):
    """A run stopped by a signal after saving ``checkpoint``; ``command`` resumes it."""

    def __init__(self, signum: int, checkpoint: Path, command: str) -> None:
        super().__init__(f"{signal.Signals(signum).name}: checkpoint {checkpoint}; resume with:\n  {command}")
        self.signum, self.checkpoint, self.command = signum, checkpoint, command


def stop_requested() -> int | None:
    """The signal number asking training to stop, or None."""
    return _caught[0] if _caught else None


def _handler(signum: int, frame: object) -> None:
    if _caught:  # the second signal: stop now
        raise KeyboardInterrupt
    _caught.append(signum)


@contextlib.contextmanager
def catch_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into :func:`stop_requested` for the duration; the old handlers come back after.

    Signal handlers can only be set from the main thread; elsewhere (a training thread in a notebook server, say)
    this does nothing and the signals keep their usual meaning.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _handler) for s in SIGNALS}
    _caught.clear()
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        _caught.clear()
