"""Inverting a DDPM: edit-friendly noise maps (exact) and DDIM inversion (approximate), and a region edit.

**Edit-friendly DDPM inversion** (Huberman-Spiegelglas, Kligler & Michaeli, "An Edit Friendly DDPM Noise Space",
CVPR 2024). The ancestral sampler is a function of its latent: the start ``x_T`` and the noise maps ``z_t`` of
every step, ``x_{t-1} = μ_θ(x_t, t) + σ_t z_t``; the same latent gives the same image. Inverting the sampler means
finding a latent that it maps to a given ``x0``. Every ``z_t`` can be solved for, given the trajectory: draw
``x_t ~ q(x_t | x0)`` for every ``t`` *independently* (not as a chain; the paper's point: independent draws leave
consecutive ``x_t`` further apart than a chain would, so the ``z``'s carry more of the image and edits of ``x_T``
or of the condition keep its structure), then for ``t = T-1 .. 0`` set ``z_t = (x_{t-1} - μ_θ(x_t, t)) / σ_t``
(``x_{-1} = x0``). Replaying the sampler with these ``z``'s reproduces ``x0`` *exactly*, for any network, trained or
not (up to float rounding): each step's equation holds by construction. The sampler's ``z``'s are i.i.d.
``N(0, I)``; these are not (they are correlated across steps and have larger variance), but they are the latent
the sampler inverts. The last step (``t = 0``), noiseless in Ho's sampler, keeps ``σ_0 = √β_0`` here so that its
``z_0`` can take up the final residual.

**DDIM inversion** (Song et al., 2021; Dhariwal & Nichol, 2021): run the η = 0 DDIM ODE forwards from ``x0`` to
``x_T``, using ε̂ of the current ``x`` in place of ε̂ at the next point (which is not known yet), then DDIM-sample
back. The latent is one Gaussian-like ``x_T``, but the reconstruction is exact only where ε̂ barely changes along
a step, which an imperfect (here, untrained) model does not grant.

**Region edit**: the latent is fixed by the original image; the masked region of ``x0`` is recoloured, the edited
image noised to ``x_{T-1-skip}`` with the same noise the inversion drew for that step, and the sampler replayed from
there with the original ``z``'s. Skipping the first ``skip`` (noisiest) steps keeps the layout; the ``z``'s keep the
detail outside the mask; the network harmonises the recoloured region with it.

Everything here takes and returns [0, 1] crops; the diffusion itself runs in the DDPM's standardised space.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio

from facebox.perception.diffusion.ddpm import DDPM

__all__ = ["NoiseMaps", "edit_friendly_inversion", "replay", "ddim_inversion", "ddim_reconstruct", "edit_region"]


@dataclass
class NoiseMaps:
    """The edit-friendly latent of a batch (standardised space): ``xs[t]`` the independent draw ``x_t ~ q(x_t |
    x0)`` (kept: an edit starts from one of them, ``xs[-1]`` is ``x_T``), ``zs[t]`` the extracted noise of step t;
    ``noise[t]`` the draw's noise, to noise an edited image the same way. Each ``[T, N, C, H, W]``."""

    xs: torch.Tensor
    zs: torch.Tensor
    noise: torch.Tensor


@torch.no_grad()
def edit_friendly_inversion(model: DDPM, images: torch.Tensor, generator: torch.Generator) -> NoiseMaps:
    """The noise maps of [0, 1] ``images`` under ``model``'s ancestral sampler (module docstring)."""
    x0 = model.standardise(images)
    noise = torch.randn((model.timesteps, *x0.shape), generator=generator, dtype=x0.dtype)
    xs = torch.stack([model.q_sample(x0, t, noise[t]) for t in range(model.timesteps)])
    zs = torch.empty_like(xs)
    for t in reversed(range(model.timesteps)):
        target = xs[t - 1] if t else x0
        zs[t] = (target - model.model_mean(xs[t], t)) / model.sigma(t, x0)
    return NoiseMaps(xs, zs, noise)


@torch.no_grad()
def replay(model: DDPM, x_start: torch.Tensor, zs: torch.Tensor, start: int | None = None) -> torch.Tensor:
    """The ancestral sampler from standardised ``x_start`` at timestep ``start`` (default ``T-1``) with the given
    noise maps (``zs[t]`` for step t), to [0, 1] images."""
    x = x_start
    for t in reversed(range((model.timesteps - 1 if start is None else start) + 1)):
        x = model.ancestral_step(x, t, zs[t])
    return model.destandardise(x)


@torch.no_grad()
def ddim_inversion(model: DDPM, images: torch.Tensor, steps: int) -> torch.Tensor:
    """The standardised ``x_T`` that DDIM's ODE (η = 0, ``steps`` timesteps) reaches from [0, 1] ``images``."""
    times = model.ddim_timesteps(steps)
    x = model.standardise(images)
    for t_from, t in zip([-1, *times[:-1]], times, strict=False):
        x = model.ddim_step(x, t_from, t, model.epsilon(x, t))
    return x


@torch.no_grad()
def ddim_reconstruct(model: DDPM, images: torch.Tensor, steps: int) -> torch.Tensor:
    """DDIM inversion then DDIM sampling back, with the same ``steps``: [0, 1] reconstructions."""
    return model.destandardise(model.ddim_sample(ddim_inversion(model, images, steps), steps))


def psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """PSNR (dB, data range 1) of [0, 1] images over the pixels where ``mask`` ([N or 1, 1, H, W], bool) is set."""
    if mask is None:
        return float(peak_signal_noise_ratio(a, b, data_range=1.0))
    keep = mask.expand_as(a)
    return float(peak_signal_noise_ratio(a[keep], b[keep], data_range=1.0))


@torch.no_grad()
def edit_region(
    model: DDPM,
    images: torch.Tensor,
    mask: torch.Tensor,
    colour: torch.Tensor,
    skip: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, float]:
    """Recolour the ``mask`` region ([N or 1, 1, H, W], bool) of [0, 1] ``images`` to ``colour`` ([C], [0, 1]) and
    regenerate with the originals' noise maps from timestep ``T-1-skip``: (the edited images, PSNR outside the
    mask against the originals)."""
    if not 0 <= skip < model.timesteps:
        raise ValueError(f"skip must be in [0, {model.timesteps}), got {skip}")
    maps = edit_friendly_inversion(model, images, generator)
    recoloured = torch.where(mask, colour.to(images.dtype).view(1, -1, 1, 1), images)
    start = model.timesteps - 1 - skip
    x_start = model.q_sample(model.standardise(recoloured), start, maps.noise[start])
    edited = replay(model, x_start, maps.zs, start)
    return edited, psnr(edited, images, ~mask)
