"""The real-face agent: the default recipe trained on real photos mixed with synthetic faces, then measured on every
shared real still set beside the baselines, over seeds.

    python -m facebox.benchmarks.cli real-faces --seeds 0 1 2 --out benchmarks/results/real_faces
    python -m facebox.benchmarks.cli real-faces --seeds 0 --encoder pretrained \
        --hyperparams policy_kwargs.encoder_kwargs.checkpoint=CKPT --name detect-frozen   # another encoder

The mixture, its weights, the augmentation and the monitoring set are ``hyperparams/real_faces.yml``; everything
else is the default PPO entry, so the two agents differ only in what they were trained on. A seed whose run folder
already has its ``final_model.zip`` is not trained again (re-running adds seeds or baselines). Training, tuning and
checkpoint choice use the training folder only; the real sets are measured, never trained on.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import yaml

from facebox.agents.train import train
from facebox.benchmarks import localize
from facebox.benchmarks.cli import command_line
from facebox.benchmarks.report import mean_std_table, write_table
from facebox.config import parse_overrides

__all__ = ["CONFIG", "training_config", "trained_model", "arguments", "main"]

CONFIG = Path(__file__).resolve().parents[1] / "hyperparams" / "real_faces.yml"
COLUMNS = {"success@0.5": "success@0.5", "success@0.7": "success@0.7", "mean_iou": "mean IoU"}
COLUMNS |= {"median_steps": "median steps", "policy_steps_per_s": "decisions/s"}


def training_config(train_root: Path, path: Path = CONFIG) -> tuple[dict, str]:
    """The env config (mixture, target, augmentation, cache) and the monitoring data spec, with ``{train}`` filled in.

    Raises ``FileNotFoundError`` naming the folder when the training data is not there, before anything starts."""
    if not train_root.is_dir():
        raise FileNotFoundError(f"{train_root}: the shared training data folder is not there (--data-root)")
    spec = yaml.safe_load(path.read_text())

    def fill(text: str) -> str:
        return text.replace("{train}", str(train_root))

    env_config = {**spec["env_config"], "dataset": {fill(k): v for k, v in spec["dataset"].items()}}
    return env_config, fill(spec["eval_data"])


def trained_model(runs_dir: Path, **fields) -> Path:
    """The final model in ``runs_dir``, trained first (:func:`facebox.agents.train.train` with ``fields``) only when
    no run there has finished: re-running a benchmark adds seeds, it never retrains one."""
    finished = sorted(runs_dir.glob("*/final_model.zip"))
    if finished:
        return finished[-1]
    return train(runs_dir=runs_dir, **fields).run_dir / "final_model.zip"


def arguments(doc: str, measured: str, name: str, runs: str) -> argparse.ArgumentParser:
    """The arguments the real-data benchmarks share: where the data is, the seeds, the agent's name, its training."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(
        "--data-root",
        type=Path,
        default=Path(os.environ.get("FACEBOX_SHARED_DATA", "../shared/data")),
        help=f"the shared data folder: train/ is trained on, {measured} measured",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--name", default=name, help="the agent's row label (and run folder prefix)")
    parser.add_argument("--bc-steps", type=int, help="warm-start states (default: the YAML's; 0: no warm start)")
    parser.add_argument("--hyperparams", nargs="+", default=[], metavar="KEY=VALUE", help="PPO overrides")
    parser.add_argument("--runs-dir", type=Path, default=Path(f"runs/{runs}"))
    parser.add_argument("--out", type=Path, default=Path(f"results/{runs}"))
    return parser


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = arguments(__doc__, "the real sets beside it", "real-face agent", "real_faces")
    parser.add_argument("--encoder", help="policy_kwargs.encoder (default: the YAML's)")
    parser.add_argument("--baselines", nargs="*", default=["oracle", "random", "haar"], help="localize policies")
    args = parser.parse_args(argv)

    env_config, eval_data = training_config(args.data_root / "train")
    command = command_line("real-faces", argv if argv is not None else [])
    stem = args.name.replace(" ", "_")
    rows = []
    for seed in args.seeds:
        model = trained_model(
            args.runs_dir / f"{stem}__s{seed}",
            seed=seed,
            encoder=args.encoder,
            bc_steps=args.bc_steps,
            hyperparams=parse_overrides(args.hyperparams, "--hyperparams"),
            env_kwargs={"config": env_config},
            eval_data=eval_data,
            command=command,
        )
        argv_seed = ["--real-sets", str(args.data_root), "--policy", f"model:{model}", "--gif-episodes", "0"]
        for row in localize.main([*argv_seed, "--seed", str(seed), "--out", str(args.out / f"{stem}__s{seed}")]):
            rows.append({**row, "policy": args.name, "seed": seed})
    if args.baselines:
        policies = [flag for name in args.baselines for flag in ("--policy", name)]
        argv_baselines = ["--real-sets", str(args.data_root), *policies, "--gif-episodes", "0"]
        for row in localize.main([*argv_baselines, "--out", str(args.out / "baselines")]):
            rows.append({**row, "seed": 0})
    write_table(rows, args.out, f"{stem}_rows")
    for row in rows:
        row["method"] = f"{row['data']} · {row['policy']}"
    table = mean_std_table(rows, "method", COLUMNS)
    (args.out / f"{stem}.md").write_text(table + "\n")
    print(table)
    return rows


if __name__ == "__main__":
    main()
