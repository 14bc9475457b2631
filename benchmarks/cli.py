"""The ``facebox`` console script: ``facebox train ...``, ``facebox evaluate ...``, ``facebox demo``.

Each subcommand hands its arguments to the ``main`` of its module (``python -m facebox.agents.train --help``,
``python -m facebox.benchmarks.evaluate --help``, ...), so the two spellings never drift apart. Modules are
imported only when their command runs, so ``facebox --help`` does not pay for torch.
"""

from __future__ import annotations

import importlib
import shlex
import sys
from collections.abc import Sequence

from facebox.interrupts import TrainingInterrupted

__all__ = ["COMMANDS", "command_line", "main"]

# command -> (module:function taking argv, help line)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("facebox.agents.train:main", "train a DQN or PPO agent (hyperparams/<algo>.yml + overrides)"),
    "evaluate": ("facebox.benchmarks.evaluate:main", "success@0.5/0.7, mean IoU, median steps, and an animation"),
    "demo": ("facebox.benchmarks.demo:main", "train the default agent; compare it with the oracle and random"),
    "real-faces": ("facebox.benchmarks.real_faces:main", "train the agent on real photos + synthetic; real-set table"),
    "real-tracking": (
        "facebox.benchmarks.real_tracking:main",
        "train the tracker on clips of real photos + synthetic; OTB table beside classic trackers",
    ),
    "pretrain": ("facebox.perception.pretrain:main", "pretrain a perception backbone (hyperparams/perception.yml)"),
    "verify": ("facebox.perception.verify:main", "face verification on LFW-style pairs: accuracy, ROC AUC, TAR@FAR"),
    "invert": ("facebox.perception.inversion:main", "reconstruct faces from ArcFace embeddings; acceptance rate, grid"),
}


def command_line(command: str, args: Sequence[str] = ()) -> str:
    """``facebox COMMAND ARGS`` as a shell command for a run's ``command.txt``: spelt ``python -m
    facebox.benchmarks.cli`` with this interpreter's path, since the ``facebox`` script need not be on the PATH of the
    shell it is pasted into (``make demo`` runs the module from ``.venv`` without activating it)."""
    return shlex.join([sys.executable, "-m", "facebox.benchmarks.cli", command, *args])


def _usage() -> str:
    lines = ["usage: facebox {" + ",".join(COMMANDS) + "} [ARGS...]  (ARGS: facebox COMMAND --help)", ""]
    lines += [f"  {name:<9} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] not in COMMANDS:
        print(f"facebox: unknown command {argv[0]!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module, _, function = COMMANDS[argv[0]][0].partition(":")
    try:
        getattr(importlib.import_module(module), function)(argv[1:])
    except TrainingInterrupted as e:  # Ctrl-C in a command that trains: where the checkpoint is, how to resume
        print(e, file=sys.stderr)
        return 128 + e.signum
    return 0


if __name__ == "__main__":
    sys.exit(main())
