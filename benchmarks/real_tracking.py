"""The real-face tracker: the default PPO recipe on FaceTracking-v0, trained on virtual-camera clips over the real
training photos mixed with synthetic clips, then scored with OTB's one-pass evaluation on the shared face sequences
beside the classic trackers and the oracle, over seeds.

    python -m facebox.benchmarks.cli real-tracking --seeds 0 1 2 --out benchmarks/results/real_tracking

The mixture and the monitoring set are ``hyperparams/real_tracking.yml``; a seed whose run folder has its
``final_model.zip`` is not trained again. The sequences are measured, never trained or tuned on. The issue's target
is the mean over sequences of each tracker's AUC (a long sequence does not outweigh a short one), so that is the
table's first column; frames/s is over all frames, excluding frame decoding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facebox.benchmarks import real_faces, track
from facebox.benchmarks.cli import command_line
from facebox.benchmarks.otb import Scores, overall
from facebox.benchmarks.report import mean_std_table, write_table
from facebox.config import parse_overrides
from facebox.envs.data.sources import open_video_dataset

__all__ = ["CONFIG", "CLASSIC", "main"]

CONFIG = Path(__file__).resolve().parents[1] / "hyperparams" / "real_tracking.yml"
CLASSIC = [*track.OPENCV_TRACKERS, "oracle"]


def _row(tracker: str, seed: int, scores: dict[str, Scores], fps: float) -> dict[str, object]:
    """Mean AUC and P@20 over sequences, each sequence's AUC, and frames/s over all of them."""
    row: dict[str, object] = {"tracker": tracker, "seed": seed}
    row["mean_auc"] = float(np.mean([s.auc for s in scores.values()]))
    row["mean_p@20"] = float(np.mean([s.precision_at_20 for s in scores.values()]))
    row |= {f"auc {name}": s.auc for name, s in scores.items()}
    return row | {"fps": fps}


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = real_faces.arguments(__doc__, "otb_face_sequences/", "real-face tracker", "real_tracking")
    parser.add_argument("--sequences", help="video spec measured on (default: otb:DATA_ROOT/otb_face_sequences)")
    parser.add_argument("--trackers", nargs="*", default=CLASSIC, help=f"baselines: {', '.join(CLASSIC)}")
    args = parser.parse_args(argv)

    env_config, eval_data = real_faces.training_config(args.data_root / "train", CONFIG)
    dataset = open_video_dataset(args.sequences or f"otb:{args.data_root / 'otb_face_sequences'}")
    command = command_line("real-tracking", argv if argv is not None else [])
    stem = args.name.replace(" ", "_")
    rows, totals = [], {}

    def add(tracker: str, seed: int, label: str, scores: dict[str, Scores]) -> None:
        totals[label] = overall(list(scores.values()))  # the curves' and the frames/s' pooled scores
        rows.append(_row(tracker, seed, scores, totals[label].fps))

    for seed in args.seeds:
        model = real_faces.trained_model(
            args.runs_dir / f"{stem}__s{seed}",
            env="facebox/FaceTracking-v0",
            seed=seed,
            bc_steps=args.bc_steps,
            hyperparams=parse_overrides(args.hyperparams, "--hyperparams"),
            env_kwargs={"config": env_config},
            eval_data=eval_data,
            command=command,
        )
        label = f"{args.name} s{seed}"
        add(args.name, seed, label, track.evaluate(track.make_tracker(f"model:{model}", dataset), dataset, name=label))
    for name in args.trackers:  # deterministic: one run each
        add(name, 0, name, track.evaluate(track.make_tracker(name, dataset), dataset, name=name))
    write_table(rows, args.out, f"{stem}_rows")
    columns = {
        key: key.replace("_", " ").replace("auc", "AUC").replace("p@", "P@")
        for key in rows[0]
        if key not in ("tracker", "seed")
    }
    table = mean_std_table(rows, "tracker", columns)
    (args.out / f"{stem}.md").write_text(table + "\n")
    print(table)
    for path in track.plot_curves(totals, args.out):
        print(f"plot: {path}")
    return rows


if __name__ == "__main__":
    main()
