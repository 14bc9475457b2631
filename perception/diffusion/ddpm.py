"""DDPM (Ho, Jain & Abbeel, NeurIPS 2020) on face crops: the ε-prediction objective, ancestral and DDIM sampling.

Conventions. Timesteps are indexed ``t = 0 .. T-1`` (Ho's ``t = 1 .. T`` shifted by one, as in diffusers), with
``ᾱ_t = ∏_{s ≤ t} (1 - β_s)`` and ``ᾱ_{-1} = 1`` (the data). The schedule is linear, ``β`` from 1e-4 to 0.02 over
``T`` steps whatever ``T`` (Ho et al. chose these endpoints for T = 1000; a shorter chain then ends less noisy:
``ᾱ_{T-1} ≈ 0.6`` at T = 50, so samples from few-step *trained* chains start from noise they never saw; train at
T = 1000 and sample with DDIM for speed).

The diffusion runs in the backbone's standardised space, ``x0 = (x - mean) / std`` per channel (the
:class:`~facebox.perception.checkpoints.Normalized` statistics), where the data has unit variance as the
``N(0, I)`` endpoint assumes; samples are de-standardised back to [0, 1] pixels. The network is the backbone (the
:class:`~facebox.perception.diffusion.unet.UNet`'s ``denoise``), so the checkpoint's backbone is both the
denoiser and the agents' feature extractor; the objective itself holds only the schedule (buffers rebuilt from its
options, not stored).

Training (Ho's Alg. 1): ``t`` uniform, ``ε ~ N(0, I)``, loss ``‖ε - ε̂(√ᾱ_t x0 + √(1-ᾱ_t) ε, t)‖²`` (the
"simple" loss). Sampling: ancestral (Alg. 2, ``σ_t² = β_t``, no noise on the last step) over all ``T`` steps, or
DDIM (Song, Meng & Ermon, ICLR 2021) with ``η = 0`` over a sub-sequence of ``S`` steps: deterministic, and the
same trained network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch.nn import functional as F

from facebox.config import ConfigError, number
from facebox.perception.checkpoints import Normalized, load_backbone, read_checkpoint
from facebox.perception.objectives import Objective, Parts

__all__ = ["linear_betas", "cumulative_alphas", "q_sample", "posterior_mean", "DDPM", "epsilon_mse"]


def linear_betas(steps: int, start: float = 1e-4, end: float = 0.02) -> torch.Tensor:
    """Ho et al.'s linear schedule: ``steps`` values of β evenly from ``start`` to ``end`` (float64)."""
    return torch.linspace(start, end, steps, dtype=torch.float64)


def cumulative_alphas(betas: torch.Tensor) -> torch.Tensor:
    """``ᾱ_t = ∏_{s ≤ t} (1 - β_s)``: the signal's share of the variance of ``x_t``."""
    return torch.cumprod(1.0 - betas, dim=0)


def _at(values: torch.Tensor, t: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor:
    """``values[t]`` shaped to broadcast over images like ``like`` (one per image for a [N] ``t``)."""
    picked = values[torch.as_tensor(t, device=values.device)]
    return picked.reshape(-1, *([1] * (like.ndim - 1))).to(like.dtype)


def q_sample(
    x0: torch.Tensor, t: torch.Tensor | int, noise: torch.Tensor, alphas_cumprod: torch.Tensor
) -> torch.Tensor:
    """``x_t ~ q(x_t | x0)`` in closed form: ``√ᾱ_t x0 + √(1 - ᾱ_t) noise``."""
    abar = _at(alphas_cumprod, t, x0)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def posterior_mean(x0: torch.Tensor, x_t: torch.Tensor, t: int, betas: torch.Tensor) -> torch.Tensor:
    """``μ̃_t(x_t, x0)``, the mean of ``q(x_{t-1} | x_t, x0)`` (Ho's Eq. 7):
    ``√ᾱ_{t-1} β_t / (1 - ᾱ_t) x0 + √α_t (1 - ᾱ_{t-1}) / (1 - ᾱ_t) x_t``."""
    abar = cumulative_alphas(betas)
    prev = abar[t - 1] if t > 0 else torch.ones((), dtype=abar.dtype)
    beta, abar_t = betas[t], abar[t]
    return (prev.sqrt() * beta / (1 - abar_t)) * x0 + ((1 - beta).sqrt() * (1 - prev) / (1 - abar_t)) * x_t


class DDPM(Objective):
    """The ε-prediction objective; ``timesteps`` T, the linear β schedule's ``beta_start``/``beta_end``,
    ``sample_steps`` (DDIM steps of the visuals) and ``visual_samples`` (how many)."""

    defaults = {"timesteps": 1000, "beta_start": 1e-4, "beta_end": 0.02, "sample_steps": 25, "visual_samples": 16}
    rules = {
        "timesteps": number(ge=2, integer=True),
        "beta_start": number(gt=0, lt=1),
        "beta_end": number(gt=0, lt=1),
        "sample_steps": number(ge=1, integer=True),
        "visual_samples": number(ge=0, integer=True),
    }

    def __init__(self, backbone: Normalized, num_classes: int = 0, options: Mapping | None = None) -> None:
        super().__init__(backbone, num_classes, options)
        opts = self.options
        if opts["beta_end"] < opts["beta_start"]:
            raise ConfigError(f"ddpm['beta_end']: expected >= beta_start {opts['beta_start']}, got {opts['beta_end']}")
        if opts["sample_steps"] > opts["timesteps"]:
            raise ConfigError(
                f"ddpm['sample_steps']: expected <= timesteps {opts['timesteps']}, got {opts['sample_steps']}"
            )
        if not callable(getattr(backbone.backbone, "denoise", None)):
            name = type(backbone.backbone).__name__
            raise ConfigError(f"pretrain['backbone']: ddpm needs a denoising backbone ('unet'), got {name}")
        betas = linear_betas(opts["timesteps"], opts["beta_start"], opts["beta_end"])
        abar = cumulative_alphas(betas)
        for name, value in {"betas": betas, "alphas_cumprod": abar}.items():
            self.register_buffer(name, value, persistent=False)  # float64, derived from the options alone; cast at use

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> DDPM:
        """The trained DDPM of a perception checkpoint (its frozen U-Net and its schedule), for sampling."""
        return cls(load_backbone(path, freeze=True), 0, read_checkpoint(path)["objective"]["kwargs"]).eval()

    @property
    def timesteps(self) -> int:
        return self.options["timesteps"]

    def standardise(self, images: torch.Tensor) -> torch.Tensor:
        """[0, 1] crops → the standardised space the diffusion runs in."""
        return (images - self.backbone.mean.to(images.dtype)) / self.backbone.std.to(images.dtype)

    def destandardise(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised images → [0, 1] pixels (clamped)."""
        return (x * self.backbone.std.to(x.dtype) + self.backbone.mean.to(x.dtype)).clamp(0, 1)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor | int, noise: torch.Tensor) -> torch.Tensor:
        return q_sample(x0, t, noise, self.alphas_cumprod)

    def epsilon(self, x_t: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """ε̂(x_t, t), the network's noise prediction (standardised space)."""
        return self.backbone.backbone.denoise(x_t, t)

    def alpha_bar(self, t: int, like: torch.Tensor) -> torch.Tensor:
        """``ᾱ_t`` as a scalar tensor of ``like``'s dtype, with ``ᾱ_{-1} = 1``."""
        return self.alphas_cumprod[t].to(like.dtype) if t >= 0 else torch.ones((), dtype=like.dtype)

    def predict_x0(self, x_t: torch.Tensor, t: int, eps: torch.Tensor) -> torch.Tensor:
        abar = self.alpha_bar(t, x_t)
        return (x_t - (1 - abar).sqrt() * eps) / abar.sqrt()

    def model_mean(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        """μ_θ(x_t, t) = (x_t - β_t / √(1 - ᾱ_t) ε̂) / √α_t, the ancestral step's mean (Ho's Eq. 11)."""
        beta, abar = self.betas[t].to(x_t.dtype), self.alpha_bar(t, x_t)
        return (x_t - beta / (1 - abar).sqrt() * self.epsilon(x_t, t)) / (1 - beta).sqrt()

    def sigma(self, t: int, like: torch.Tensor) -> torch.Tensor:
        """σ_t = √β_t, Ho's upper-bound choice of the reverse variance."""
        return self.betas[t].to(like.dtype).sqrt()

    def ancestral_step(self, x_t: torch.Tensor, t: int, z: torch.Tensor) -> torch.Tensor:
        """``x_{t-1} = μ_θ(x_t, t) + σ_t z``."""
        return self.model_mean(x_t, t) + self.sigma(t, x_t) * z

    def ddim_timesteps(self, steps: int) -> list[int]:
        """``steps`` timesteps evenly over ``0 .. T-1`` (both ends included), increasing."""
        return torch.linspace(0, self.timesteps - 1, steps).round().long().unique().tolist()

    def ddim_step(self, x: torch.Tensor, t: int, t_to: int, eps: torch.Tensor) -> torch.Tensor:
        """DDIM's η = 0 update from timestep ``t`` to ``t_to`` (either direction; ``-1`` is the data) given ε̂:
        ``√ᾱ_{t_to} x̂0 + √(1 - ᾱ_{t_to}) ε̂``."""
        abar_to = self.alpha_bar(t_to, x)
        return abar_to.sqrt() * self.predict_x0(x, t, eps) + (1 - abar_to).sqrt() * eps

    def ddim_sample(self, x_T: torch.Tensor, steps: int) -> torch.Tensor:
        """Deterministic DDIM from standardised noise ``x_T`` (at ``t = T-1``) over ``steps`` timesteps."""
        times = self.ddim_timesteps(steps)
        x = x_T
        for t, t_to in zip(reversed(times), [*reversed(times[:-1]), -1], strict=False):
            x = self.ddim_step(x, t, t_to, self.epsilon(x, t))
        return x

    def ancestral_sample(self, x_T: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Ho's Alg. 2 from standardised noise ``x_T`` over all ``T`` steps (no noise added at the last)."""
        x = x_T
        for t in reversed(range(self.timesteps)):
            z = torch.randn(x.shape, generator=generator, dtype=x.dtype) if t else torch.zeros_like(x)
            x = self.ancestral_step(x, t, z)
        return x

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, steps: int | None = None) -> torch.Tensor:
        """``n`` [0, 1] samples: DDIM over ``steps`` timesteps, or ancestral over all of them for ``None``."""
        shape = (n, *self.backbone.shape)
        x_T = torch.randn(shape, generator=generator, dtype=self.backbone.mean.dtype)
        x = self.ancestral_sample(x_T, generator) if steps is None else self.ddim_sample(x_T, steps)
        return self.destandardise(x)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, Parts]:
        x0 = self.standardise(batch["image"])
        t = torch.randint(0, self.timesteps, (len(x0),), device=x0.device)
        noise = torch.randn_like(x0)
        loss = F.mse_loss(self.epsilon(self.q_sample(x0, t, noise), t), noise)
        return loss, {"epsilon_mse": loss.detach()}

    def visuals(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """DDIM samples from fixed noise (a local generator), so runs and steps compare sample for sample."""
        if not self.options["visual_samples"]:
            return {}
        generator = torch.Generator().manual_seed(0)
        return {"samples": self.sample(self.options["visual_samples"], generator, self.options["sample_steps"])}


@torch.no_grad()
def epsilon_mse(objective: DDPM, crops: torch.Tensor, t_grid: Sequence[int], seed: int = 0) -> torch.Tensor:
    """The ε-prediction MSE of [0, 1] ``crops`` at each timestep of ``t_grid`` (``[len(t_grid)]``), with noise
    drawn once from ``seed``: the same noise for every model, so a trained and an untrained one compare exactly."""
    generator = torch.Generator().manual_seed(seed)
    x0 = objective.standardise(crops)
    noise = torch.randn((len(t_grid), *x0.shape), generator=generator, dtype=x0.dtype)
    errors = [
        F.mse_loss(objective.epsilon(objective.q_sample(x0, t, eps), t), eps)
        for t, eps in zip(t_grid, noise, strict=False)
    ]
    return torch.stack(errors)
