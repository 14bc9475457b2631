"""ArcFace inversion: from an embedding alone, an image the model accepts as that identity.

A face embedding is often stored as if it were anonymous. If it can be turned back into a face that the same model
verifies as the person, the template is as sensitive as a photo. :func:`invert` optimises an input image so that
its embedding points along a target, with two priors from DeepInversion (Yin et al., CVPR 2020) that keep it from
being adversarial noise. The first is a BatchNorm prior: every BatchNorm2d layer stores the mean and variance its
input had over the training faces, and the inversion's activations are pulled towards them. The second is total
variation, which penalises the pixel-to-pixel noise a classifier ignores. Each step also shifts and mirrors the
image at random, so the result has to hold up under small changes rather than exploit one exact pixel grid.
:func:`acceptance` measures what matters here: whether the verifier accepts a reconstruction as the person, and,
as a control, whether it rejects the reconstruction for other people.

``facebox invert --checkpoint CKPT --pairs PAIRS --images DIR [--boxes TSV]`` runs the whole experiment. The
threshold is the one ``facebox verify`` reports on those pairs (the mean of the 10 folds' thresholds from
:func:`~.verification.evaluate_pairs`). The originals are the first image of each of the first ``--n`` distinct
identities in the pairs file. It prints the acceptance rate, the control rate, the mean cosine and PSNR/SSIM, and
writes ``grid.png`` (originals above their inversions) and ``inversion.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure
from torchvision.utils import make_grid, save_image
from tqdm import tqdm

from facebox.envs.data.images import read_image
from facebox.perception.checkpoints import Normalized
from facebox.perception.verification import _crop, embed_crops, evaluate_pairs, pair_similarities
from facebox.perception.verify import open_pairs

__all__ = ["BatchNormPrior", "total_variation", "invert", "acceptance", "save_grid", "main"]


class BatchNormPrior:
    """Collects DeepInversion's BatchNorm prior while active (``with BatchNormPrior(model) as prior``).

    For every BatchNorm2d layer, forward hooks add ``‖μ − running_mean‖₂ + ‖σ² − running_var‖₂``, where μ and σ²
    are that layer's input statistics per channel. They are computed over the whole batch (images and pixels),
    the way the running statistics were accumulated in training and the way DeepInversion does it; the variance is
    the biased one. The sum is in :attr:`loss`. BatchNorm1d (the embedding head) is left out, as in DeepInversion,
    because its statistics over a handful of targets say little.
    """

    def __init__(self, model: nn.Module) -> None:
        self.layers = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        self.handles: list = []
        self.loss = torch.zeros(())

    def _hook(self, layer: nn.BatchNorm2d, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        x = inputs[0]
        mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)
        self.loss = self.loss + torch.linalg.vector_norm(mean - layer.running_mean)
        self.loss = self.loss + torch.linalg.vector_norm(var - layer.running_var)

    def reset(self) -> None:
        self.loss = torch.zeros(())

    def __enter__(self) -> BatchNormPrior:
        self.handles = [layer.register_forward_hook(self._hook) for layer in self.layers]
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic L1 total variation of a batch NxCxHxW: the mean absolute difference between horizontal and
    vertical neighbours. It is 0 for a flat image and large for the high-frequency noise that raises a cosine
    without looking like anything."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def invert(
    backbone: Normalized,
    targets: torch.Tensor,
    steps: int = 300,
    lr: float = 0.05,
    tv: float = 3.0,
    bn: float = 0.01,
    jitter: int = 2,
    seed: int = 0,
) -> torch.Tensor:
    """NxCxHxW images in [0, 1] whose embeddings point along the unit ``targets`` (NxD).

    The pixels are ``sigmoid(logits)``, which keeps every Adam step inside [0, 1] without a clamp and so without
    dead gradients. The logits start as small seeded noise around grey. Each step minimises ``(1 − cosine)``
    averaged over the batch, plus ``bn`` times the :class:`BatchNormPrior` over the whole batch, plus ``tv`` times
    :func:`total_variation`. It does this on a copy of the image rolled by up to ``jitter`` pixels each way and
    mirrored with probability ½, which is DeepInversion's augmentation. All randomness comes from a
    ``torch.Generator`` seeded with ``seed``. The backbone runs in eval mode, so its running statistics do not
    change. Gradients are taken with respect to the logits only, so the backbone's parameters collect none even
    when it is not frozen.

    The default weights come from the softmax checkpoint on CelebA's validation identities (48 px, 150 steps). At
    ``tv = 3`` the inversions' total variation matched that of the real crops (0.08) and the cosine stayed at 0.87;
    a ten times smaller weight left twice that much noise. A larger ``bn`` lowered the prior only a little (77 to
    70) and cost 0.1 of cosine.
    """
    channels, height, width = backbone.shape
    targets = F.normalize(targets.detach().float(), dim=1)
    generator = torch.Generator().manual_seed(seed)
    logits = (0.1 * torch.randn(len(targets), channels, height, width, generator=generator)).requires_grad_()
    optimizer = torch.optim.Adam([logits], lr=lr)
    training = backbone.training
    backbone.eval()
    try:
        with BatchNormPrior(backbone) as prior, tqdm(range(steps), desc="inverting", unit="step") as bar:
            for _ in bar:
                dy, dx = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=generator))
                x = torch.sigmoid(logits)
                seen = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
                if torch.rand((), generator=generator) < 0.5:
                    seen = seen.flip(-1)
                prior.reset()
                cosine = F.cosine_similarity(backbone(seen), targets, dim=1).mean()
                loss = (1 - cosine) + bn * prior.loss + tv * total_variation(x)
                (logits.grad,) = torch.autograd.grad(loss, logits)
                optimizer.step()
                bar.set_postfix(cosine=f"{cosine.item():.3f}", refresh=False)
    finally:
        backbone.train(training)
    return torch.sigmoid(logits).detach()


def acceptance(
    backbone: Normalized, originals: torch.Tensor, inversions: torch.Tensor, threshold: float
) -> dict[str, float | int | list[float]]:
    """How well the inversions pass as their people: ``accepted`` is the fraction whose cosine with their own
    original's embedding (flip TTA, :func:`embed_crops`) is above ``threshold``, and ``mean_cosine`` the mean of
    those cosines. The test is strict ``>``, as in :class:`~.verification.Verifier`.

    The originals must be of distinct people. ``control_accepted`` is the fraction of (inversion i, original j ≠ i)
    pairs accepted. An inversion accepted for everyone proves nothing, so a meaningful attack has a high
    ``accepted`` and a ``control_accepted`` close to ``originals_control_accepted``, the rate at which the
    originals are accepted as each other. PSNR and SSIM (torchmetrics, data range 1) measure pixel fidelity,
    averaged per image. They are context only: the attack aims for identity, not pixels, and a face the model
    accepts can look quite unlike the photo.
    """
    n = len(originals)
    if n < 2 or len(inversions) != n:
        raise ValueError(f"acceptance needs at least 2 originals and one inversion each, got {n} and {len(inversions)}")
    a, b = embed_crops(backbone, originals), embed_crops(backbone, inversions)
    cosines, between = b @ a.T, a @ a.T
    own = cosines.diagonal()
    others = ~torch.eye(n, dtype=torch.bool)
    return {
        "n": n,
        "threshold": float(threshold),
        "accepted": float((own > threshold).float().mean()),
        "mean_cosine": float(own.mean()),
        "control_accepted": float((cosines[others] > threshold).float().mean()),
        "control_mean_cosine": float(cosines[others].mean()),
        "originals_control_accepted": float((between[others] > threshold).float().mean()),
        "psnr": float(peak_signal_noise_ratio(inversions, originals, data_range=1.0, dim=(1, 2, 3))),
        "ssim": float(structural_similarity_index_measure(inversions, originals, data_range=1.0)),
        "cosines": own.tolist(),
    }


def save_grid(originals: torch.Tensor, inversions: torch.Tensor, path: str | Path) -> Path:
    """A PNG at ``path``: the originals in the top row and their inversions beneath them, column by column."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(make_grid(torch.cat([originals, inversions]), nrow=len(originals), padding=2, pad_value=1.0), path)
    return path


def _first_images(pairs: Sequence, n: int) -> list[tuple[str, str]]:
    """(identity, image) for the first image of each of the first ``n`` distinct identities, in file order."""
    first: dict[str, str] = {}
    for pair in pairs:
        for identity, image in ((pair.id_a, pair.image_a), (pair.id_b, pair.image_b)):
            first.setdefault(identity, image)
    return list(first.items())[:n]


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="facebox invert", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="a perception checkpoint")
    parser.add_argument("--pairs", type=Path, required=True, help="LFW-style pairs file: threshold and originals")
    parser.add_argument("--images", type=Path, required=True, help="folder the pairs' image paths are relative to")
    parser.add_argument("--boxes", type=Path, help="face box table (rank-0 box per image); default: whole images")
    parser.add_argument("--n", type=int, default=20, help="identities to invert (first image of each)")
    parser.add_argument("--steps", type=int, default=300, help="optimisation steps")
    parser.add_argument("--tv", type=float, default=3.0, help="weight of total variation (see invert)")
    parser.add_argument("--bn", type=float, default=0.01, help="weight of the BatchNorm prior (see invert)")
    parser.add_argument("--out", type=Path, default=Path("results/inversion"), help="folder for grid.png and json")
    parser.add_argument("--seed", type=int, default=0, help="seed of the inversions' noise and jitter")
    args = parser.parse_args(argv)

    if args.n < 2:
        parser.error(f"--n {args.n}: at least 2 identities (the control compares each with the others)")
    pairs, boxes, backbone = open_pairs(parser, args)
    chosen = _first_images(pairs, args.n)
    if len(chosen) < 2:
        parser.error(f"{args.pairs}: {len(chosen)} identity; inversion's control needs at least 2")

    try:
        result = evaluate_pairs(pair_similarities(backbone, pairs, args.images, boxes), [p.same for p in pairs])
    except ValueError as error:  # too few pairs of a kind for 10 folds
        parser.error(f"{args.pairs}: {error}")
    originals = torch.stack(
        [_crop(read_image(args.images / name), (boxes or {}).get(Path(name).name), backbone.info) for _, name in chosen]
    )
    inversions = invert(backbone, embed_crops(backbone, originals), args.steps, tv=args.tv, bn=args.bn, seed=args.seed)
    measured = acceptance(backbone, originals, inversions, result.threshold)

    print(f"{args.checkpoint}: {measured['n']} identities of {args.pairs}, {args.steps} steps")
    print(f"  threshold        {result.threshold:.4f} (cosine, mean of the folds', as facebox verify)")
    print(f"  accepted         {measured['accepted']:.3f} (inversion vs its own original)")
    print(
        f"  control          {measured['control_accepted']:.3f} (vs other identities; originals among "
        f"themselves {measured['originals_control_accepted']:.3f})"
    )
    print(f"  mean cosine      {measured['mean_cosine']:.4f} (control {measured['control_mean_cosine']:.4f})")
    print(f"  PSNR / SSIM      {measured['psnr']:.2f} dB / {measured['ssim']:.4f} (pixels; identity is the goal)")
    grid = save_grid(originals, inversions, args.out / "grid.png")
    report = {
        "checkpoint": str(args.checkpoint),
        "pairs_file": str(args.pairs),
        "images": str(args.images),
        "boxes": None if args.boxes is None else str(args.boxes),
        "steps": args.steps,
        "seed": args.seed,
        "tv": args.tv,
        "bn": args.bn,
        "identities": [identity for identity, _ in chosen],
        "originals": [name for _, name in chosen],
        "verification_accuracy": result.accuracy,
        **measured,
    }
    (args.out / "inversion.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"grid: {grid}\nmeasurement: {args.out / 'inversion.json'}")
    return report


if __name__ == "__main__":
    main()
