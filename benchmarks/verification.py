"""The verification table of issue 18: every identity method pretrained on the same CelebA identities, then
measured on face pairs of people it never saw, several seeds, beside an untrained backbone.

Each trial is one ``facebox pretrain`` run (its exact command is printed and kept in ``commands.txt``) on the
CelebA identities minus those of the validation pairs, plus ``celeba_extra``; then ``pair accuracy`` (10-fold LFW
protocol), ``ROC AUC`` and ``TAR@FAR=1e-2`` on ``celeba_identities/DERIVED_pairs_val.txt`` (18 held-out
identities, MTCNN boxes) and on ORL pairs of all 30 ORL identities (grayscale studio faces none of the methods
trained on). The validation pairs are only logged during training: every trial keeps its last step, so the numbers
are not picked on the pairs they are reported on. Finished trials (their checkpoint at the last step) are skipped
when the table is rerun.

    python -m facebox.benchmarks.verification --data-root ../shared/data/train --out benchmarks/results/verification
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from facebox.benchmarks.report import mean_std_table
from facebox.perception.backbones import build_backbone
from facebox.perception.checkpoints import Normalized, load_backbone, read_checkpoint
from facebox.perception.pretrain import pretrain_once
from facebox.perception.verification import evaluate_pairs, pair_similarities, plot_roc, read_boxes, read_pairs
from facebox.perception.verify import make_pairs

__all__ = ["VARIANTS", "main"]

# row name -> (method, --set overrides)
VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "softmax": ("softmax", ()),
    "normface": ("normface", ()),
    "arcface": ("arcface", ()),
    "arcface+intra": ("arcface", ("objective.intra=1.0",)),
    "arcface+inter": ("arcface", ("objective.inter=1.0",)),
    "contrastive": ("contrastive", ()),
    "triplet": ("triplet", ()),
}


class _Pairs:
    """One pairs benchmark: the pairs, where their images are, and their face boxes (or whole images)."""

    def __init__(self, name: str, pairs: Path, images: Path, boxes: Path | None) -> None:
        self.name, self.pairs, self.images = name, read_pairs(pairs), images
        self.boxes = read_boxes(boxes) if boxes else None

    def measure(self, backbone: Normalized) -> dict:
        similarities = pair_similarities(backbone, self.pairs, self.images, self.boxes)
        result = evaluate_pairs(similarities, [pair.same for pair in self.pairs])
        return {"accuracy": result.accuracy, "auc": result.auc, "tar": result.tar_at_far, "roc": result}


def _trial(name: str, seed: int, args: argparse.Namespace, celeba: Path) -> tuple[Path, str]:
    """Train (or find finished) one trial; its checkpoint and the command that trains it."""
    method, overrides = VARIANTS[name]
    out = args.out / "checkpoints" / f"{name}__s{seed}.pt"
    argv = ["--method", method, "--seed", str(seed), "--out", str(out), "--logdir", str(args.out / "runs")]
    argv += ["--data", f"celeba_ids:{celeba / 'DERIVED_identities.txt'}?exclude_pairs=DERIVED_pairs_val.txt"]
    argv += [f"celeba_ids:{args.data_root / 'celeba_extra' / 'DERIVED_identities.txt'}"]
    argv += ["--pairs", str(celeba / "DERIVED_pairs_val.txt"), "--images", str(celeba / "images")]
    argv += ["--boxes", str(celeba / "DERIVED_mtcnn_face_boxes.tsv")]
    for override in (*overrides, *args.set):
        argv += ["--set", override]
    command = shlex.join([sys.executable, "-m", "facebox.benchmarks.cli", "pretrain", *argv])
    print(f"\n$ {command}", flush=True)
    pretrain_once(argv, out)
    return out, command


def _untrained(reference: Path, seed: int) -> Normalized:
    """A freshly initialised backbone of the trials' architecture and input: the floor every method must beat."""
    data = read_checkpoint(reference)
    torch.manual_seed(seed)
    backbone = build_backbone(data["backbone"]["name"], data["input"]["shape"], data["backbone"]["kwargs"])
    return Normalized(backbone, data["input"], freeze=True)


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m facebox.benchmarks.verification", description=__doc__)
    parser.add_argument("--data-root", type=Path, required=True, help="the shared training data (…/data/train)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/verification"))
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every trial")
    args = parser.parse_args(argv)
    celeba = args.data_root / "celeba_identities"
    orl_pairs = make_pairs(f"folders:{args.data_root / 'att_orl_faces'}", args.out / "orl_pairs.txt", seed=0)
    benchmarks = [
        _Pairs("celeba", celeba / "DERIVED_pairs_val.txt", celeba / "images", celeba / "DERIVED_mtcnn_face_boxes.tsv"),
        _Pairs("orl", orl_pairs, args.data_root / "att_orl_faces", None),
    ]
    rows, commands, curves = [], [], {}
    for seed in args.seeds:  # seed-major: a cut-short table still has every method once
        for name in args.variants:
            path, command = _trial(name, seed, args, celeba)
            commands.append(command)
            row = {"method": name, "seed": seed, "minutes": read_checkpoint(path)["trainer"]["seconds"] / 60}
            for bench in benchmarks:
                measured = bench.measure(load_backbone(path))
                row |= {f"{bench.name}_{k}": v for k, v in measured.items() if k != "roc"}
                if bench.name == "celeba" and seed == args.seeds[0]:
                    curves[name] = (measured["roc"].fpr, measured["roc"].tpr, measured["roc"].auc)
            rows.append(row)
            print(json.dumps(row), flush=True)
    reference = _trial(args.variants[0], args.seeds[0], args, celeba)[0]  # finished: only read back
    for seed in args.seeds:
        row = {"method": "untrained", "seed": seed, "minutes": 0.0}
        for bench in benchmarks:
            measured = bench.measure(_untrained(reference, seed))
            row |= {f"{bench.name}_{k}": v for k, v in measured.items() if k != "roc"}
        rows.append(row)
    _write(args.out, rows, commands, curves)
    return rows


def _write(out: Path, rows: list[dict], commands: list[str], curves: dict) -> None:
    columns = {
        f"{b}_{k}": f"{name} {m}"
        for b, name in (("celeba", "CelebA"), ("orl", "ORL"))
        for k, m in (("accuracy", "pair acc"), ("auc", "AUC"), ("tar", "TAR@1e-2"))
    }
    table = mean_std_table(rows, "method", {**columns, "minutes": "minutes"})
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    (out / "commands.txt").write_text("\n".join(commands) + "\n")
    plot_roc(curves, out / "roc_celeba.png")
    print(table)


if __name__ == "__main__":
    main()
