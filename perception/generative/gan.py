"""GANs whose discriminator trunk is a perception backbone: DCGAN (Radford et al., 2016) with the non-saturating
generator loss (Goodfellow et al., 2014), and WGAN-GP (Gulrajani et al., 2017).

The discriminator is ``self.backbone`` (the :class:`~facebox.perception.checkpoints.Normalized` backbone the
trainer checkpoints, so a trained critic's trunk plugs into an agent like any other backbone) and a linear head to
one logit; the generator is a :class:`~facebox.perception.generative.decoder.ConvDecoder` from a Gaussian latent to
[0, 1] crops, which reach the discriminator through the same input normalisation as the real ones. The two are the
trainer's two players (:meth:`players`), each with its own optimizer, and take turns (:meth:`turn`); ``forward``
returns the loss of the player whose turn it is. The noise of a step comes from the global torch RNG, which the
trainer seeds and checkpoints, so a resumed run draws the same latents; :meth:`visuals` draws from a fixed latent
batch of its own, so TensorBoard shows the same ``z`` move over training.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from facebox.config import ConfigError, Rule, number
from facebox.perception.checkpoints import Normalized
from facebox.perception.generative.decoder import ConvDecoder
from facebox.perception.objectives import Objective, Parts

__all__ = [
    "GAN",
    "WGANGP",
    "discriminator_loss",
    "generator_loss",
    "critic_loss",
    "wasserstein_generator_loss",
    "gradient_penalty",
]

VISUAL_SEED = 20140610  # the fixed latents of the visuals (Goodfellow et al.'s arXiv date)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``-log D(x) - log(1 - D(G(z)))`` averaged over each batch: the binary cross-entropy of real (1) vs fake (0),
    whose minimiser is the optimal discriminator ``D* = p_r / (p_r + p_g)``."""
    return F.binary_cross_entropy_with_logits(
        real_logits, torch.ones_like(real_logits)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating ``-log D(G(z))``: the minimax ``log(1 - D(G(z)))`` has a vanishing gradient exactly when
    the discriminator rejects the samples confidently (early in training); this one has the same fixed point and a
    strong gradient there (Goodfellow et al., 2014, Section 3)."""
    return F.softplus(-fake_logits).mean()


def critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """``E[D(fake)] - E[D(real)]``: minus the Kantorovich-Rubinstein estimate of the Wasserstein-1 distance, which a
    1-Lipschitz critic maximises."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """``-E[D(G(z))]``: the generator lowers the critic's Wasserstein estimate (its real term does not depend on G)."""
    return -fake_scores.mean()


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(E[(‖∇D(x̂)‖₂ - 1)²], the per-sample norms ‖∇D(x̂)‖₂)`` at ``x̂ = εx + (1-ε)x̃``, ``ε ~ U[0, 1]`` per sample
    (the global RNG): WGAN-GP's soft Lipschitz constraint, enforced along the lines between real and generated
    samples, where the optimal critic has unit gradient norm (Gulrajani et al., Proposition 1). The graph is kept
    (``create_graph``) so the penalty trains the critic."""
    eps = torch.rand(len(real), *([1] * (real.ndim - 1)), device=real.device, dtype=real.dtype)
    mixed = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    (grads,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    norms = grads.flatten(1).norm(dim=1)
    return ((norms - 1) ** 2).mean(), norms


_WIDTHS = Rule(
    "a non-empty list of integers >= 1",
    lambda v: isinstance(v, list | tuple) and len(v) > 0 and all(number(ge=1, integer=True).test(c) for c in v),
)


class GAN(Objective):
    """DCGAN: the discriminator (backbone + ``Linear(D, 1)``) and the generator (``ConvDecoder(latent, crop shape,
    generator_channels)``) alternate one step each. The discriminator's step is the cross-entropy of a real batch
    against a batch of fakes made without gradient (its loss must not move the generator); the generator's is the
    non-saturating loss of a fresh batch. Real and fake batches pass the discriminator separately, as in DCGAN's
    code, so a BatchNorm trunk (``strided`` with ``norm: batch``) normalises each by its own statistics.
    ``num_classes`` is unused (the trainer passes the number of identities, which a GAN ignores)."""

    defaults: dict[str, Any] = {"latent": 64, "generator_channels": [128, 64, 32]}
    rules: dict = {"latent": number(ge=1, integer=True), "generator_channels": _WIDTHS}
    judge = "discriminator"  # the name of the player that scores samples

    def __init__(self, backbone: Normalized, num_classes: int = 0, options: Mapping | None = None) -> None:
        super().__init__(backbone, num_classes, options)
        latent = self.options["latent"]
        self.head = nn.Linear(backbone.features_dim, 1)
        try:
            self.generator = ConvDecoder(latent, backbone.shape, self.options["generator_channels"])
        except ValueError as error:
            raise ConfigError(f"{type(self).__name__.lower()}['generator_channels']: {error}") from None
        fixed = torch.randn(64, latent, generator=torch.Generator().manual_seed(VISUAL_SEED))
        self.register_buffer("fixed_z", fixed, persistent=False)

    def discriminate(self, images: torch.Tensor) -> torch.Tensor:
        """One logit (a critic's score) per [0, 1] image."""
        return self.head(self.backbone(images)).squeeze(1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` generated [0, 1] crops from ``z ~ N(0, I)`` (``generator`` for the noise, else the global RNG)."""
        z = torch.randn(n, self.options["latent"], generator=generator, device=self.fixed_z.device)
        return self.generator(z)

    def players(self) -> dict[str, list[nn.Parameter]]:
        judge = [*self.backbone.parameters(), *self.head.parameters()]
        return {
            self.judge: [p for p in judge if p.requires_grad],
            "generator": [p for p in self.generator.parameters() if p.requires_grad],
        }

    def turn(self, step: int) -> str:
        return self.judge if step % 2 == 0 else "generator"

    def visuals(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"samples": self.generator(self.fixed_z)}

    def forward(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, Parts]:
        real = batch["image"]
        if self.player == "generator":
            return self.generator_step(self.discriminate(self.sample(len(real))))
        with torch.no_grad():
            fake = self.sample(len(real))
        return self.judge_step(real, fake)

    def generator_step(self, fake_logits: torch.Tensor) -> tuple[torch.Tensor, Parts]:
        loss = generator_loss(fake_logits)
        return loss, {"generator": loss, "d_fake": torch.sigmoid(fake_logits).mean().detach()}

    def judge_step(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, Parts]:
        real_logits, fake_logits = self.discriminate(real), self.discriminate(fake)
        loss = discriminator_loss(real_logits, fake_logits)
        with torch.no_grad():
            hits = torch.cat([real_logits > 0, fake_logits <= 0]).float().mean()
            parts = {"d_real": torch.sigmoid(real_logits).mean(), "d_fake": torch.sigmoid(fake_logits).mean()}
        return loss, {"discriminator": loss, **parts, "d_accuracy": hits}


class WGANGP(GAN):
    """WGAN-GP: the critic (backbone + ``Linear(D, 1)``, an unbounded score) takes ``n_critic`` steps of
    ``E[D(fake)] - E[D(real)] + lambda_gp · E[(‖∇D(x̂)‖₂ - 1)²]`` for every generator step of ``-E[D(G(z))]`` (the
    paper's Algorithm 1: ``n_critic = 5``, ``λ = 10``, Adam with ``β = (0, 0.9)``). The critic must not use
    BatchNorm: the penalty constrains the gradient of each sample's score with respect to that sample, and batch
    statistics make every score depend on the whole batch (the paper's Section 4; ``strided`` with ``norm: none``
    or ``layer`` is per sample). The parts: ``critic`` (the loss without the penalty), ``gradient_penalty``
    (weighted), ``wasserstein`` (``E[D(real)] - E[D(fake)]``, the estimate whose fall tracks sample quality) and
    ``gradient_norm`` (the mean ‖∇D(x̂)‖₂, near 1 when the constraint holds)."""

    defaults = {**GAN.defaults, "lambda_gp": 10.0, "n_critic": 5}
    rules = {**GAN.rules, "lambda_gp": number(ge=0), "n_critic": number(ge=1, integer=True)}
    judge = "critic"

    def __init__(self, backbone: Normalized, num_classes: int = 0, options: Mapping | None = None) -> None:
        batch_norms = [m for m in backbone.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if batch_norms:
            raise ConfigError(
                f"wgan_gp: expected a critic backbone without BatchNorm, got {len(batch_norms)} BatchNorm layer(s): "
                "the gradient penalty is per sample and batch statistics couple the samples (use strided with "
                "norm: none or layer)"
            )
        super().__init__(backbone, num_classes, options)

    def turn(self, step: int) -> str:
        return self.judge if step % (self.options["n_critic"] + 1) < self.options["n_critic"] else "generator"

    def generator_step(self, fake_scores: torch.Tensor) -> tuple[torch.Tensor, Parts]:
        loss = wasserstein_generator_loss(fake_scores)
        return loss, {"generator": loss}

    def judge_step(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, Parts]:
        real_scores, fake_scores = self.discriminate(real), self.discriminate(fake)
        critic = critic_loss(real_scores, fake_scores)
        penalty, norms = gradient_penalty(self.discriminate, real, fake)
        penalty = self.options["lambda_gp"] * penalty
        parts = {"critic": critic, "gradient_penalty": penalty}
        parts |= {"wasserstein": -critic.detach(), "gradient_norm": norms.mean().detach()}
        return critic + penalty, parts
