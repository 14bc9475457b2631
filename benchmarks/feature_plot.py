"""The ArcFace paper's Figure 3 on our data: 2-D features of 8 identities, softmax against ArcFace.

The backbone of the verification table, its embedding cut to 2 dimensions, is pretrained by each method on the 8
training identities of ``celeba_identities`` with the most photos (the paper's toy set is 8 identities too); every
face of them is then embedded without jitter and drawn, coloured by identity. Softmax features spread radially
from the origin, separable by direction only where they are far out; ArcFace's normalised features sit on the
circle in compact, separated arcs, which is what verification by cosine needs.

    python -m facebox.benchmarks.feature_plot --data-root ../shared/data/train --out benchmarks/results/verification
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import torch
from matplotlib.figure import Figure
from torch.nn import functional as F

from facebox.envs.data.formats.identities import pair_identities
from facebox.perception.checkpoints import load_backbone
from facebox.perception.data import FaceCrops
from facebox.perception.pretrain import pretrain_once

__all__ = ["main"]

# why: 8 centres on a circle are 0.785 rad apart, so the default margin 0.5 leaves each face only ±0.14 rad around its
# centre, and s = 30 saturates first: features collapsed onto two points (measured); a feasible margin and scale
TWO_D = {"softmax": [], "arcface": ["objective.scale=16", "objective.margin=0.2", "objective.margin_warmup=0.5"]}


def _eight_identities(root: Path, out: Path) -> str:
    """An identity file of the 8 best-represented training identities (validation-pair identities left out)."""
    lines = (root / "DERIVED_identities.txt").read_text().split("\n")
    rows = [line.split() for line in lines if line.strip()]
    excluded = {str(i) for i in pair_identities(root / "DERIVED_pairs_val.txt")}
    counts = Counter(identity for _, identity in rows if identity not in excluded)
    chosen = {identity for identity, _ in counts.most_common(8)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f"{image} {identity}\n" for image, identity in rows if identity in chosen))
    return f"celeba_ids:{out}?boxes={root / 'DERIVED_mtcnn_face_boxes.tsv'}&images={root / 'images'}"


def main(argv: Sequence[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m facebox.benchmarks.feature_plot", description=__doc__)
    parser.add_argument("--data-root", type=Path, required=True, help="the shared training data (…/data/train)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/verification"))
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    spec = _eight_identities(args.data_root / "celeba_identities", args.out / "eight_identities.txt")
    figure = Figure(figsize=(10, 5), layout="constrained")
    for axes, method in zip(figure.subplots(1, 2), ("softmax", "arcface"), strict=True):
        checkpoint = args.out / "checkpoints" / f"{method}_2d__s{args.seed}.pt"
        sets = ["backbone_kwargs.features=2", f"steps={args.steps}", "batch_size=32", "projector=0", *TWO_D[method]]
        argv = ["--method", method, "--data", spec, "--out", str(checkpoint), "--seed", str(args.seed)]
        pretrain_once(argv + ["--logdir", str(args.out / "runs")] + [x for s in sets for x in ("--set", s)], checkpoint)
        backbone = load_backbone(checkpoint)
        crops = FaceCrops(spec, size=backbone.shape[-1], context=backbone.info["context"], jitter=0, flip=False)
        items = [crops[i] for i in range(len(crops))]
        with torch.no_grad():
            features = backbone(torch.stack([item["image"] for item in items]))
        if method == "arcface":  # ArcFace's logits see only directions: draw them on the unit circle
            features = F.normalize(features, dim=1)
        labels = torch.stack([item["label"] for item in items])
        for label in labels.unique():
            points = features[labels == label]
            axes.scatter(points[:, 0], points[:, 1], s=12, label=f"id {crops.identities[label][1]}")
        axes.set_title(f"{method}: 2-D features of 8 identities ({args.steps} steps)")
        axes.set_aspect("equal")
    axes.legend(fontsize=7, loc="upper right")
    path = args.out / "features_2d.png"
    figure.savefig(path, dpi=120)
    print(f"feature plot: {path}")
    return path


if __name__ == "__main__":
    main()
