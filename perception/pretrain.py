"""``facebox pretrain``: train a perception backbone by one method on face data, with the defaults of
``hyperparams/perception.yml`` for that method.

    facebox pretrain --method arcface --out runs/arcface.pt \\
        --data "celeba_ids:DATA/celeba_identities/DERIVED_identities.txt?exclude_pairs=DERIVED_pairs_val.txt" \\
               celeba_ids:DATA/celeba_extra/DERIVED_identities.txt \\
        --pairs DATA/celeba_identities/DERIVED_pairs_val.txt --images DATA/celeba_identities/images \\
        --boxes DATA/celeba_identities/DERIVED_mtcnn_face_boxes.tsv
    facebox pretrain --method dann --data "synthetic?length=2000" csv:DATA/face_mask_kaggle/DERIVED_boxes.tsv ...
    facebox pretrain --method detect --data "synthetic?length=2000" csv:DATA/face_mask_kaggle/DERIVED_boxes.tsv \\
        --set init=runs/dann.pt --set freeze=true    # transfer: another checkpoint's backbone, frozen; heads only

``--set key=value`` overrides any key (``--set objective.margin=0.3 --set steps=500``); ``--resume`` continues
the run saved at ``--out``. Validation: verification on the ``--pairs`` (identity methods; logged, never used to
pick a checkpoint: the run keeps its last step), or DANN's domain and task accuracy on the held-out part of the
real training images.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import yaml

from facebox.config import ConfigError, lookup, merge_config, parse_overrides
from facebox.envs.data.sources import held_out
from facebox.perception.checkpoints import CheckpointError, load_backbone, read_checkpoint
from facebox.perception.dann import DANN, Windows, evaluate_dann
from facebox.perception.detection import Detection
from facebox.perception.diffusion.ddpm import DDPM
from facebox.perception.generative.gan import GAN, WGANGP
from facebox.perception.generative.vae import VAE, LinearVAE
from facebox.perception.objectives import OBJECTIVES, Objective
from facebox.perception.trainer import DEFAULTS, Validate, train
from facebox.perception.verification import evaluate_pairs, pair_similarities, read_boxes, read_pairs
from facebox.runs import shell_command

__all__ = ["METHODS", "HYPERPARAMS", "method_config", "main", "pretrain_once", "load_objective"]

METHODS: dict[str, type[Objective]] = {
    **OBJECTIVES,
    "dann": DANN,
    "detect": Detection,
    "vae": VAE,
    "linear_vae": LinearVAE,
    "gan": GAN,
    "wgan_gp": WGANGP,
    "ddpm": DDPM,
}
HYPERPARAMS = Path(__file__).resolve().parent.parent / "hyperparams" / "perception.yml"


def method_config(method: str, path: Path = HYPERPARAMS) -> dict:
    """The YAML defaults of ``method`` (an unknown method is a ``ConfigError`` listing the known ones)."""
    lookup(METHODS, method, "method")
    table = yaml.safe_load(path.read_text()) or {}
    if method not in table:
        raise ConfigError(f"{path}: no entry for method {method!r}; it has {sorted(k for k in table if k[0] != '_')}")
    return table[method]


def pairs_validation(pairs: Path, images: Path, boxes: Path | None) -> Validate:
    """Verification of the backbone on ``pairs``: what an identity method is for, measured as it trains."""
    read, table = read_pairs(pairs), read_boxes(boxes) if boxes else None
    same = [pair.same for pair in read]

    def validate(objective: Objective) -> dict[str, float]:
        result = evaluate_pairs(pair_similarities(objective.backbone, read, images, table), same)
        return {"accuracy": result.accuracy, "auc": result.auc, "tar_at_far": result.tar_at_far}

    return validate


def dann_validation(data: list[str], crops: dict, seed: int) -> Validate:
    """DANN's domain-classifier accuracy and task accuracy on windows of the held-out real images, beside synthetic
    images of another generator seed (so neither side was trained on)."""
    specs = [held_out(spec, 1000) if spec.startswith("synthetic") else spec for spec in data]
    held_out_windows = Windows(specs, seed=seed, size=crops["size"], context=crops["context"], part="held_out")
    return lambda objective: evaluate_dann(objective, held_out_windows)


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="facebox pretrain", description=__doc__.split("\n")[0])
    parser.add_argument("--method", required=True, choices=sorted(METHODS))
    parser.add_argument("--data", required=True, nargs="+", metavar="SPEC", help="data specs (FORMAT:PATH?...)")
    parser.add_argument("--out", required=True, type=Path, help="the checkpoint file to write (and resume)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    parser.add_argument("--seed", type=int, help="the run's seed (default: the YAML's)")
    parser.add_argument("--resume", action="store_true", help="continue the run saved at --out")
    parser.add_argument("--logdir", type=Path, default=Path("runs"), help="TensorBoard root (default: runs)")
    parser.add_argument("--pairs", type=Path, help="validation pairs file (LFW style) for identity methods")
    parser.add_argument("--images", type=Path, help="folder the validation pairs' images are in")
    parser.add_argument("--boxes", type=Path, help="face box table of the validation images")
    args = parser.parse_args(argv)
    config = method_config(args.method)
    config.update(parse_overrides(args.set, "--set"))
    if args.seed is not None:
        config["seed"] = args.seed
    if args.method == "dann":
        crops = merge_config(DEFAULTS["crops"], config.get("crops"), "pretrain['crops']")
        validate = dann_validation(args.data, crops, config.get("seed", DEFAULTS["seed"]))
    elif args.pairs:
        if args.images is None:
            parser.error("--pairs needs --images DIR")
        validate = pairs_validation(args.pairs, args.images, args.boxes)
    else:
        validate = None
    command = shell_command()
    resume = command if args.resume else f"{command} --resume"
    method = METHODS[args.method]
    saved = train(method, args.method, args.data, args.out, config, args.resume, args.logdir, validate, resume)
    metrics = " ".join(f"{k}={v:.4f}" for k, v in saved["metrics"].items())
    minutes = saved["trainer"]["seconds"] / 60
    print(f"{args.out}: {args.method}, {saved['step']} steps in {minutes:.1f} min; {metrics or 'no validation'}")
    return saved


def pretrain_once(argv: list[str], out: Path) -> dict:
    """``facebox pretrain ARGV`` writing ``out``, for benchmarks that rerun: a finished checkpoint (at its last
    step) is read back, an unfinished one resumed, a missing one trained."""
    if out.is_file():
        saved = read_checkpoint(out)
        if saved["step"] >= saved["config"]["steps"]:
            print(f"done already: {out}")
            return saved
        return main([*argv, "--resume"])
    return main(argv)


def load_objective(path: str | Path) -> Objective:
    """The whole trained method of the checkpoint at ``path`` (backbone, heads, decoder or generator), frozen and
    in eval mode: what a generative model is evaluated and sampled through."""
    saved = read_checkpoint(path)
    name = saved["objective"]["name"]
    if name not in METHODS:
        raise CheckpointError(f"{path}: method {name!r} is not one this facebox has ({sorted(METHODS)})")
    objective = METHODS[name](load_backbone(path), len(saved["objective"]["identities"]), saved["objective"]["kwargs"])
    weights = objective.state_dict()
    weights.update(saved["objective"]["state_dict"])
    objective.load_state_dict(weights)
    return objective.requires_grad_(False).eval()


if __name__ == "__main__":
    main()
