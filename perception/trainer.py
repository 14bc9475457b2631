"""The one trainer of every perception method: steps of AdamW on ``objective(batch)``, a cosine schedule after a
linear warm-up, a progress bar, TensorBoard, periodic validation and resumable, atomic checkpoints.

A method is only an objective (:mod:`facebox.perception.objectives`: a backbone, a loss, the items it learns from
and the batches it needs), so ArcFace, a Siamese net and DANN train, log, checkpoint and resume the same way. The
run is counted in optimizer steps rather than epochs: the training sets differ by an order of magnitude in size,
and a budget in steps is what costs the same minutes on every one.

Everything random is seeded: the backbone's initial weights by ``torch.manual_seed(seed)``, the batches by
``(seed, epoch)`` and each crop's jitter by ``(seed, epoch, index)``. A checkpoint keeps the optimizer, the
schedule, the epoch and the batch position inside it, so a resumed run takes the steps the uninterrupted run would
have taken. SIGINT/SIGTERM stop the run after the current step with such a checkpoint
(:mod:`facebox.interrupts`).

Adversarial methods have players (:meth:`~facebox.perception.objectives.Objective.players`: a GAN's generator and
discriminator), each with its own AdamW (``betas`` is the run's: GANs train with a low β1); a step updates the
player whose :meth:`~facebox.perception.objectives.Objective.turn` it is, and every other method is the one
player ``model``. Generative methods' :meth:`~facebox.perception.objectives.Objective.visuals` (samples,
reconstructions of a fixed batch) go to TensorBoard at each validation.

Transfer learning: ``init: PATH`` starts the backbone from another perception checkpoint (its architecture, weights
and input normalisation, which the weights were learnt under; the run's ``backbone``/``backbone_kwargs`` become
that checkpoint's) and ``freeze: true`` keeps it as loaded, so only the objective's own layers (its heads) learn.
Freezing needs ``init``: a frozen random backbone is almost always a forgotten ``init``, minutes lost.

TensorBoard, under ``<logdir>/perception/<method>/<run>/``: the loss and its named parts, the learning rate, the
objective's schedule (ArcFace's margin, DANN's λ), steps per second, validation metrics; a grid of the first
batch's crops (what the backbone is shown); the embedding projector on training faces at the end.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from itertools import islice
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import default_collate
from torch.utils.tensorboard import SummaryWriter
from torchvision.utils import make_grid
from tqdm import tqdm

from facebox.config import ConfigError, Rule, check_values, instance_of, merge_config, number
from facebox.interrupts import TrainingInterrupted, catch_signals, stop_requested
from facebox.perception.backbones import build_backbone
from facebox.perception.checkpoints import Normalized, load_backbone, read_checkpoint, save_checkpoint
from facebox.perception.objectives import Objective
from facebox.perception.samplers import BalancedBatches, ShuffleBatches

__all__ = ["DEFAULTS", "train", "input_statistics"]

DEFAULTS: dict[str, Any] = {
    "backbone": "resnet",
    "backbone_kwargs": {},
    "init": "",
    "freeze": False,
    "crops": {"size": 48, "context": 0.2, "jitter": 0.1, "flip": True, "cache": True},
    "objective": {},
    "steps": 2000,
    "batch_size": 64,
    "per_identity": 4,
    "lr": 3e-3,
    "weight_decay": 5e-4,
    "betas": [0.9, 0.999],
    "warmup": 0.05,
    "seed": 0,
    "log_every": 25,
    "validate_every": 500,
    "checkpoint_every": 500,
    "projector": 512,
}
RULES = {
    "backbone": instance_of(str),
    "backbone_kwargs": instance_of(dict),
    "init": instance_of(str),
    "freeze": instance_of(bool),
    "crops": instance_of(dict),
    "objective": instance_of(dict),
    "steps": number(ge=1, integer=True),
    "batch_size": number(ge=2, integer=True),
    "per_identity": number(ge=2, integer=True),
    "lr": number(gt=0),
    "weight_decay": number(ge=0),
    "betas": Rule(
        "a list of 2 numbers in [0, 1)",
        lambda v: isinstance(v, list | tuple) and len(v) == 2 and all(number(ge=0, lt=1).test(b) for b in v),
    ),
    "warmup": number(ge=0, lt=1),
    "seed": number(ge=0, integer=True),
    "log_every": number(ge=1, integer=True),
    "validate_every": number(ge=0, integer=True),
    "checkpoint_every": number(ge=0, integer=True),
    "projector": number(ge=0, integer=True),
}

Validate = Callable[[Objective], Mapping[str, float]]


def input_statistics(dataset: torch.utils.data.Dataset, n: int = 256) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of ``n`` training crops spread evenly over the set (items are listed source by
    source): the normalisation the checkpoint stores, so that every user of the backbone feeds it [0, 1] pixels."""
    stride = max(1, len(dataset) // n)
    images = torch.stack([dataset[i]["image"] for i in range(0, len(dataset), stride)][:n])
    return images.mean((0, 2, 3)).tolist(), images.std((0, 2, 3)).clamp_min(1e-3).tolist()


def _schedule(step: int, steps: int, warmup: float) -> float:
    """Learning-rate factor: linear from ~0 over ``warmup`` of the steps, then a cosine to 0."""
    warm = max(1, round(warmup * steps))
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))


def _optimizer(params: list[torch.nn.Parameter], cfg: Mapping) -> torch.optim.AdamW:
    """AdamW with weight decay on weight matrices and kernels only: decaying BatchNorm scales and biases pulls
    them to 0 for nothing."""
    groups = [
        {"params": [p for p in params if p.ndim > 1], "weight_decay": cfg["weight_decay"]},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg["lr"], betas=tuple(cfg["betas"]))


def _batches(dataset, sampler, epoch: int, position: int):
    """Endless ``(epoch, position after the batch, batch)`` from ``(epoch, position)`` on."""
    while True:
        sampler.set_epoch(epoch)
        dataset.set_epoch(epoch)
        for after, indices in enumerate(islice(iter(sampler), position, None), start=position + 1):
            yield epoch, after, default_collate([dataset[i] for i in indices])
        epoch, position = epoch + 1, 0


class _Run:
    """What one training run holds: the data, the objective, its optimizer and schedule, and where it stands."""

    def __init__(self, method: type[Objective], name: str, data: list[str], cfg: dict, saved: dict | None) -> None:
        self.name, self.data, self.cfg = name, data, cfg
        torch.manual_seed(cfg["seed"])
        self.dataset = method.dataset(data, cfg["crops"], cfg["seed"])
        context = cfg["crops"].get("context", 0.0)
        if saved is not None:
            self.input = saved["input"]
            backbone = build_backbone(cfg["backbone"], self.input["shape"], cfg["backbone_kwargs"])
        elif cfg["init"]:
            backbone = self._initial_backbone(cfg, context)
        else:
            mean, std = input_statistics(self.dataset)
            size = self.dataset[0]["image"].shape
            self.input = {"shape": list(size), "mean": mean, "std": std, "context": context}
            backbone = build_backbone(cfg["backbone"], self.input["shape"], cfg["backbone_kwargs"])
        identities = getattr(self.dataset, "identities", [])
        normalized = Normalized(backbone, self.input, freeze=cfg["freeze"])
        self.objective = method(normalized, len(identities), cfg["objective"])
        self.identities = [list(i) for i in identities]
        if method.sampler == "balanced":
            labels = [self.dataset.identity(i) for i in range(len(self.dataset))]
            self.sampler = BalancedBatches(labels, cfg["batch_size"], cfg["per_identity"], cfg["seed"])
        else:
            self.sampler = ShuffleBatches(len(self.dataset), cfg["batch_size"], cfg["seed"])
        # one optimizer a player; every schedule steps each step, so all follow the run's step
        self.optimizers = {k: _optimizer(v, cfg) for k, v in self.objective.players().items()}
        self.schedulers = {
            k: torch.optim.lr_scheduler.LambdaLR(o, lambda s: _schedule(s, cfg["steps"], cfg["warmup"]))
            for k, o in self.optimizers.items()
        }
        n = min(16, len(self.dataset))
        self.fixed = default_collate([self.dataset[i] for i in range(n)])["image"]  # what visuals are drawn from
        self.step, self.epoch, self.position, self.seconds, self.metrics = 0, 0, 0, 0.0, {}
        if saved is not None:
            self._restore(saved)

    def _initial_backbone(self, cfg: dict, context: float) -> torch.nn.Module:
        """The backbone of checkpoint ``cfg["init"]``, whose architecture and input normalisation the run takes
        over (recorded in ``cfg``, so the checkpoint this run writes rebuilds it); its input must be our crops'."""
        loaded, spec = load_backbone(cfg["init"], freeze=False), read_checkpoint(cfg["init"])["backbone"]
        shape = list(self.dataset[0]["image"].shape)
        if list(loaded.shape) != shape:
            raise ConfigError(
                f"pretrain['init']: expected a checkpoint of {shape} (CxHxW) inputs, the crops' size, "
                f"got {cfg['init']} of {list(loaded.shape)}"
            )
        cfg["backbone"], cfg["backbone_kwargs"] = spec["name"], spec["kwargs"]
        self.input = {**loaded.info, "context": context}
        return loaded.backbone

    def _restore(self, saved: dict) -> None:
        self.objective.backbone.backbone.load_state_dict(saved["backbone"]["state_dict"])
        extras = self.objective.state_dict()
        extras.update(saved["objective"]["state_dict"])
        self.objective.load_state_dict(extras)
        state = saved["trainer"]
        if "optimizer" in state:  # written before players had optimizers of their own
            state = {**state, "optimizers": {"model": state["optimizer"]}, "schedulers": {"model": state["scheduler"]}}
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
            self.schedulers[name].load_state_dict(state["schedulers"][name])
        torch.set_rng_state(state["torch_rng"])
        self.step, self.epoch, self.position = saved["step"], state["epoch"], state["position"]
        self.seconds, self.metrics = state["seconds"], dict(saved.get("metrics", {}))

    def payload(self) -> dict:
        extras = {k: v for k, v in self.objective.state_dict().items() if not k.startswith("backbone.")}
        return {
            "backbone": {
                "name": self.cfg["backbone"],
                "kwargs": self.cfg["backbone_kwargs"],
                "state_dict": self.objective.backbone.backbone.state_dict(),
            },
            "input": self.input,
            "objective": {
                "name": self.name,
                "kwargs": self.objective.options,
                "state_dict": extras,
                "identities": self.identities,
                "sources": list(self.data),
            },
            "config": {"method": self.name, "data": list(self.data), **self.cfg},
            "step": self.step,
            "metrics": self.metrics,
            "trainer": {
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
                "epoch": self.epoch,
                "position": self.position,
                "torch_rng": torch.get_rng_state(),
                "seconds": self.seconds,
            },
        }


def train(
    method: type[Objective],
    name: str,
    data: list[str],
    out: str | Path,
    config: Mapping | None = None,
    resume: bool = False,
    logdir: str | Path = "runs",
    validate: Validate | None = None,
    resume_command: str = "",
) -> dict[str, Any]:
    """Train objective class ``method`` (registered as ``name``) on ``data`` (specs) with ``config`` over
    :data:`DEFAULTS`; checkpoint at ``out`` (and resume from it with ``resume``); return the final checkpoint dict.

    ``validate(objective)`` returns metrics to log (at step 0, the untrained baseline, every ``validate_every``
    steps and at the end); ``resume_command`` is what a stopped run tells the user to type.
    """
    out = Path(out)
    saved = read_checkpoint(out) if resume else None
    if saved is not None and "trainer" not in saved:
        raise ValueError(f"{out}: the checkpoint has no trainer state to resume from")
    cfg = merge_config(DEFAULTS, config, "pretrain")
    if saved is not None:  # the run continues with the settings it started with (steps may grow)
        kept = {k: saved["config"][k] for k in DEFAULTS if k in saved["config"]}  # (older runs lack newer keys)
        cfg = merge_config(DEFAULTS, kept | {"steps": cfg["steps"]}, "pretrain")
    check_values(cfg, RULES, "pretrain")
    if cfg["freeze"] and not cfg["init"]:
        raise ConfigError("pretrain['freeze']: expected false without an init checkpoint to freeze, got True")
    run = _Run(method, name, data, cfg, saved)
    writer = SummaryWriter(Path(logdir) / "perception" / name / out.stem, purge_step=run.step or None)
    try:
        _loop(run, out, writer, validate, resume_command)
        if cfg["projector"] and run.identities:
            _projector(run, writer)
    finally:
        writer.close()
    return run.payload()


def _validate(run: _Run, writer: SummaryWriter, validate: Validate | None) -> None:
    """Validation metrics and the objective's visuals, outside the training's random stream (fork_rng), so a run
    takes the same steps whatever its validation schedule."""
    run.objective.eval()
    with torch.no_grad(), torch.random.fork_rng():
        if validate is not None:
            run.metrics = {k: float(v) for k, v in validate(run.objective).items()}
        visuals = run.objective.visuals(run.fixed)
    run.objective.train()
    for key, value in (run.metrics if validate is not None else {}).items():
        writer.add_scalar(f"validation/{key}", value, run.step)
    for key, images in visuals.items():
        writer.add_image(f"visuals/{key}", make_grid(images.clamp(0, 1), nrow=8), run.step)


def _loop(run: _Run, out: Path, writer: SummaryWriter, validate: Validate | None, resume_command: str) -> None:
    cfg = run.cfg
    bar = tqdm(total=cfg["steps"], initial=run.step, unit="step", desc=f"pretrain {run.name}", dynamic_ncols=True)
    batches = _batches(run.dataset, run.sampler, run.epoch, run.position)
    run.objective.train()
    start, done = time.perf_counter(), 0
    with catch_signals(), bar:
        if run.step == 0:
            _validate(run, writer, validate)
        while run.step < cfg["steps"]:
            run.epoch, run.position, batch = next(batches)
            if run.step == 0:
                writer.add_image("crops", make_grid(batch["image"][:64], nrow=8), 0)
            run.objective.set_progress(run.step / cfg["steps"])
            run.objective.player = player = run.objective.turn(run.step)
            loss, parts = run.objective(batch)
            for optimizer in run.optimizers.values():  # a player's loss reaches the other's weights too
                optimizer.zero_grad(set_to_none=True)
            loss.backward()
            run.optimizers[player].step()
            with warnings.catch_warnings():  # a player yet to take its first turn still follows the run's step
                warnings.filterwarnings("ignore", r"Detected call of `lr_scheduler\.step\(\)`", UserWarning)
                for scheduler in run.schedulers.values():
                    scheduler.step()
            run.step, done = run.step + 1, done + 1
            bar.update()
            if run.step % cfg["log_every"] == 0 or run.step == cfg["steps"]:
                elapsed = time.perf_counter() - start
                _log(run, writer, loss, parts, done / max(elapsed, 1e-9))
                bar.set_postfix(loss=f"{loss.item():.3f}", **{k: f"{v.item():.3f}" for k, v in parts.items()})
            every = cfg["validate_every"]
            if (every and run.step % every == 0) or run.step == cfg["steps"]:
                _validate(run, writer, validate)
            run.seconds += time.perf_counter() - start
            start = time.perf_counter()
            signum = stop_requested()
            ckpt = cfg["checkpoint_every"]
            if signum is not None or (ckpt and run.step % ckpt == 0) or run.step == cfg["steps"]:
                save_checkpoint(out, run.payload())
            if signum is not None and run.step < cfg["steps"]:
                raise TrainingInterrupted(signum, out, resume_command)


def _log(run: _Run, writer: SummaryWriter, loss: torch.Tensor, parts: Mapping, rate: float) -> None:
    writer.add_scalar("train/loss", loss.item(), run.step)
    for key, value in parts.items():
        writer.add_scalar(f"train/{key}", value.item(), run.step)
    for name, scheduler in run.schedulers.items():
        writer.add_scalar("train/lr" if name == "model" else f"train/lr_{name}", scheduler.get_last_lr()[0], run.step)
    writer.add_scalar("train/progress", run.objective.progress, run.step)
    for key, value in run.objective.schedule().items():
        writer.add_scalar(f"schedule/{key}", value, run.step)
    writer.add_scalar("time/steps_per_second", rate, run.step)


def _projector(run: _Run, writer: SummaryWriter) -> None:
    """Embeddings of the first training faces with their identity labels and thumbnails, for TensorBoard's
    projector (what the paper's feature-space figures show, in 3-D and for every identity)."""
    items = [run.dataset[i] for i in range(min(run.cfg["projector"], len(run.dataset)))]
    batch = default_collate(items)
    run.objective.eval()
    with torch.no_grad():
        features = torch.cat([run.objective.backbone(chunk) for chunk in batch["image"].split(128)])
    labels = [str(int(label)) for label in batch["label"]]
    thumbs = torch.nn.functional.interpolate(batch["image"], size=32, mode="bilinear", antialias=True)
    writer.add_embedding(features, metadata=labels, label_img=thumbs, global_step=run.step, tag="features")
