"""``facebox verify``: face verification accuracy, ROC AUC and TAR@FAR of a perception checkpoint on LFW-style pairs.

``facebox verify --checkpoint CKPT --pairs PAIRS --images DIR [--boxes TSV]`` embeds every image the pairs name
(paths relative to ``--images``) and prints the measurement of :func:`~.verification.evaluate_pairs`.
``--make-pairs folders:PATH --out FILE`` writes such a pairs file for a folder-per-identity set (ORL), so that its
held-out identities are measured the same way, e.g.::

    facebox verify --make-pairs folders:/work/shared/data/train/att_orl_faces --identities 20-29 --out orl_pairs.txt
    facebox verify --checkpoint orl.pt --pairs orl_pairs.txt --images /work/shared/data/train/att_orl_faces
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from facebox.envs.data.formats.identities import load_identity_folders
from facebox.perception.checkpoints import Normalized, load_backbone
from facebox.perception.verification import (
    FAR,
    Pair,
    evaluate_pairs,
    pair_similarities,
    plot_roc,
    read_boxes,
    read_pairs,
)

__all__ = ["make_pairs", "open_pairs", "main"]


def make_pairs(
    spec: str,
    out: str | os.PathLike,
    identities: tuple[int, int] | None = None,
    per_kind: int = 150,
    seed: int = 0,
) -> Path:
    """Write an LFW-style pairs file for the ``folders:PATH`` set ``spec``: ``per_kind`` same pairs (two different
    images of one identity) and ``per_kind`` different pairs (an image each of two identities), drawn without
    replacement by ``np.random.default_rng(seed)`` from all such pairs of the identities ``first..last`` (inclusive,
    0-based as :func:`load_identity_folders` numbers them; all when None). Identity columns are those numbers, image
    columns paths relative to PATH (``s21/3.pgm``), so ``--images PATH`` reads them."""
    kind, _, folder = spec.partition(":")
    if kind != "folders" or not folder:
        raise ValueError(f"--make-pairs {spec!r}: expected folders:PATH (one folder of images per identity)")
    root = Path(folder).expanduser()
    images: dict[int, list[str]] = {}
    for entry in load_identity_folders(root).entries:
        images.setdefault(entry.identities[0], []).append(Path(entry.path).relative_to(root).as_posix())
    first, last = identities if identities is not None else (0, len(images) - 1)
    if not 0 <= first < last < len(images):
        raise ValueError(f"{spec}: identities {first}-{last} asked for, the set has identities 0-{len(images) - 1}")
    chosen = range(first, last + 1)
    same = [(i, a, b) for i in chosen for a, b in itertools.combinations(images[i], 2)]
    different = [(i, a, j, b) for i, j in itertools.combinations(chosen, 2) for a in images[i] for b in images[j]]
    rng = np.random.default_rng(seed)
    lines = []
    for name, candidates in (("same", same), ("different", different)):
        if len(candidates) < per_kind:
            raise ValueError(f"{spec}: identities {first}-{last} give {len(candidates)} {name} pairs, {per_kind} asked")
        lines += ["\t".join(map(str, candidates[k])) for k in sorted(rng.choice(len(candidates), per_kind, False))]
    header = (
        f"# pairs of {spec} identities {first}-{last}, np.random.default_rng({seed}): {per_kind} same "
        f"'identity img1 img2' then {per_kind} different 'identity1 img1 identity2 img2' (LFW pairs.txt style)"
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join([header, *lines]) + "\n")
    return out


def open_pairs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[list[Pair], dict | None, Normalized]:
    """The pairs, box table and backbone that ``--pairs``, ``--boxes`` and ``--checkpoint`` name, every image of
    the pairs checked present in ``--images``; any problem is a ``parser.error`` naming the file (exit status 2)."""
    if not args.images.is_dir():
        parser.error(f"--images {args.images}: no such folder")
    try:
        pairs = read_pairs(args.pairs)
        boxes = read_boxes(args.boxes) if args.boxes else None
        backbone = load_backbone(args.checkpoint)
    except (ValueError, FileNotFoundError) as error:  # CheckpointError is a ValueError
        parser.error(str(error))
    names = list(dict.fromkeys(name for pair in pairs for name in (pair.image_a, pair.image_b)))
    missing = [name for name in names if not (args.images / name).is_file()]
    if missing:
        parser.error(f"{args.pairs}: {len(missing)} images not found in {args.images} ({', '.join(missing[:3])})")
    return pairs, boxes, backbone


def _identity_range(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)-(\d+)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected FIRST-LAST (0-based, inclusive), got {text!r}")
    return int(match[1]), int(match[2])


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="facebox verify", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, help="a perception checkpoint (facebox.perception.checkpoints)")
    parser.add_argument("--pairs", type=Path, help="LFW-style pairs file")
    parser.add_argument("--images", type=Path, help="folder the pairs' image paths are relative to")
    parser.add_argument("--boxes", type=Path, help="face box table (rank-0 box per image); default: whole images")
    parser.add_argument("--no-flip", action="store_true", help="no mirror test-time augmentation")
    parser.add_argument("--roc", type=Path, help="write the ROC curve to this PNG")
    parser.add_argument("--json", type=Path, help="write the measurement to this JSON file")
    parser.add_argument("--make-pairs", metavar="SPEC", help="write a pairs file for folders:PATH instead (--out)")
    parser.add_argument("--out", type=Path, help="the pairs file --make-pairs writes")
    parser.add_argument("--identities", type=_identity_range, help="--make-pairs: identities FIRST-LAST (0-based)")
    parser.add_argument("--per-kind", type=int, default=150, help="--make-pairs: same and different pairs each")
    parser.add_argument("--seed", type=int, default=0, help="--make-pairs: seed of the draw")
    args = parser.parse_args(argv)

    if args.make_pairs:
        if args.out is None:
            parser.error("--make-pairs needs --out FILE")
        try:
            path = make_pairs(args.make_pairs, args.out, args.identities, args.per_kind, args.seed)
        except (ValueError, FileNotFoundError) as error:
            parser.error(str(error))
        print(f"{path}: {args.per_kind} same + {args.per_kind} different pairs")
        return {"pairs_file": str(path)}

    for option in ("checkpoint", "pairs", "images"):
        if getattr(args, option) is None:
            parser.error(f"--{option} is required (or --make-pairs SPEC --out FILE)")
    pairs, boxes, backbone = open_pairs(parser, args)

    similarities = pair_similarities(backbone, pairs, args.images, boxes, flip=not args.no_flip)
    result = evaluate_pairs(similarities, [pair.same for pair in pairs])

    folds = len(result.fold_accuracies)
    print(f"{args.checkpoint} on {args.pairs}")
    print(f"  pairs            {result.pairs} ({result.same} same, {result.pairs - result.same} different)")
    print(f"  accuracy         {result.accuracy:.4f} ± {result.accuracy_std:.4f} ({folds} folds)")
    print(f"  ROC AUC          {result.auc:.4f}")
    print(f"  TAR@FAR={FAR:g}     {result.tar_at_far:.4f}")
    print(f"  threshold        {result.threshold:.4f} (cosine, mean of the folds')")
    report = {
        "checkpoint": str(args.checkpoint),
        "pairs_file": str(args.pairs),
        "images": str(args.images),
        "boxes": None if args.boxes is None else str(args.boxes),
        "flip": not args.no_flip,
        **result.to_dict(),
    }
    if args.roc:
        print(f"ROC curve: {plot_roc({args.checkpoint.stem: (result.fpr, result.tpr, result.auc)}, args.roc)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
        print(f"measurement: {args.json}")
    return report


if __name__ == "__main__":
    main()
