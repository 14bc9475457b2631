"""DANN's table of issue 18: features for face localization trained on labelled synthetic windows, with and
without adversarial adaptation to the real training photos (whose labels the training never reads).

Each trial is one ``facebox pretrain --method dann`` run (``--set objective.adapt=false`` for "source only", the
paper's baseline); its last validation, on windows of the held-out fifth of the real photos (face-mask and pet
heads) beside synthetic images of another seed, gives the domain classifier's balanced accuracy (0.5 = the domains
are indistinguishable in the features), the face/no-face accuracy and the mean IoU of the regressed box on the real
windows. Finished trials are skipped when the table is rerun.

    python -m facebox.benchmarks.dann --data-root ../shared/data/train --out benchmarks/results/dann
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from facebox.benchmarks.report import mean_std_table
from facebox.perception.pretrain import pretrain_once

__all__ = ["main"]

VARIANTS = {"source only": ("objective.adapt=false",), "DANN": ("objective.adapt=true",)}


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m facebox.benchmarks.dann", description=__doc__)
    parser.add_argument("--data-root", type=Path, required=True, help="the shared training data (…/data/train)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/dann"))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--synthetic", default="synthetic?length=2000", help="the labelled source")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every trial")
    args = parser.parse_args(argv)
    real = [
        f"csv:{args.data_root / 'face_mask_kaggle' / 'DERIVED_boxes.tsv'}?images=images",
        f"csv:{args.data_root / 'oxford_pet_heads' / 'DERIVED_head_boxes.tsv'}?images=images",
    ]
    rows, commands = [], []
    for seed in args.seeds:
        for name, overrides in VARIANTS.items():
            out = args.out / "checkpoints" / f"{name.replace(' ', '_')}__s{seed}.pt"
            trial = ["--method", "dann", "--seed", str(seed), "--out", str(out), "--logdir", str(args.out / "runs")]
            trial += ["--data", args.synthetic, *real]
            for override in (*overrides, *args.set):
                trial += ["--set", override]
            commands.append(shlex.join([sys.executable, "-m", "facebox.benchmarks.cli", "pretrain", *trial]))
            print(f"\n$ {commands[-1]}", flush=True)
            saved = pretrain_once(trial, out)
            rows.append({"method": name, "seed": seed, "minutes": saved["trainer"]["seconds"] / 60, **saved["metrics"]})
            print(json.dumps(rows[-1]), flush=True)
    columns = {"domain_accuracy": "domain accuracy", "face_accuracy": "real face accuracy", "box_iou": "real box IoU"}
    table = mean_std_table(rows, "method", {**columns, "minutes": "minutes"})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(table + "\n")
    (args.out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    (args.out / "commands.txt").write_text("\n".join(commands) + "\n")
    print(table)
    return rows


if __name__ == "__main__":
    main()
