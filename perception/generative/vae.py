"""Variational autoencoders (Kingma & Welling, 2014) of face crops: a convolutional VAE and the linear VAE whose
ELBO has a closed form and whose optimum is probabilistic PCA (Tipping & Bishop, 1999; Lucas et al., 2019).

Both objectives minimise the negative ELBO of a batch, per image and averaged over the batch:
``−ELBO(x) = −E_q[log p(x|z)] + KL(q(z|x) ‖ p(z))``, in nats. Both expose the same three pieces, so
:func:`held_out_elbo` and :func:`active_latents` measure either: ``encode(images) → (mu, logvar)`` of the posterior,
``elbo(images, generator) → [N]`` and the decoder behind :meth:`visuals`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
from torch import nn
from torch.distributions import MultivariateNormal, Normal
from torch.nn import functional as F

from facebox.config import ConfigError, Rule, instance_of, number, one_of
from facebox.perception.backbones.linear import LinearEncoder
from facebox.perception.checkpoints import Normalized
from facebox.perception.generative.decoder import ConvDecoder
from facebox.perception.objectives import Objective, Parts

__all__ = [
    "VAE",
    "LinearVAE",
    "gaussian_kl",
    "mixture_log_prior",
    "sample_mixture_prior",
    "monte_carlo_kl",
    "held_out_elbo",
    "active_latents",
    "exact_ppca_log_likelihood",
]

_LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, diag exp(logvar)) ‖ N(0, I))`` per row, summed over the last dimension (closed form)."""
    return 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum(-1)


def mixture_log_prior(z: torch.Tensor, weight_uniform: float = 0.1, bound: float = 6.0) -> torch.Tensor:
    """``log p(z)`` summed over the last dimension, for the prior that is, in every dimension independently,
    ``(1 − w)·N(0, 1) + w·U(−bound, bound)``: a product of per-dimension mixtures (not a mixture of two
    d-dimensional densities), so ``log p(z)`` is a sum of per-dimension terms and a tail in one coordinate costs
    only that coordinate. Outside the bound only the Gaussian part is left."""
    log_normal = Normal(0.0, 1.0).log_prob(z)
    log_uniform = torch.where(z.abs() <= bound, -math.log(2 * bound), -math.inf)
    log_weight = torch.tensor(float(weight_uniform)).log()  # −inf at w = 0, where the normal part is all there is
    return torch.logaddexp(math.log1p(-weight_uniform) + log_normal, log_weight + log_uniform).sum(-1)


def sample_mixture_prior(
    shape: tuple[int, ...], weight_uniform: float, bound: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draws of :func:`mixture_log_prior`'s prior: each coordinate uniform with probability ``w``, else normal."""
    normal = torch.randn(shape, generator=generator)
    uniform = (torch.rand(shape, generator=generator) * 2 - 1) * bound
    return torch.where(torch.rand(shape, generator=generator) < weight_uniform, uniform, normal)


def monte_carlo_kl(
    z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, log_prior: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """``E_q[log q(z) − log p(z)]`` per row of ``mu``, averaged over samples ``z`` (``[S, N, d]`` or ``[N, d]``)
    of ``q = N(mu, diag exp(logvar))``. Reparameterised samples give the gradient through ``z`` as well."""
    log_q = Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    estimate = log_q - log_prior(z)
    return estimate.mean(0) if z.dim() == 3 else estimate


def exact_ppca_log_likelihood(x: torch.Tensor, A: torch.Tensor, mu: torch.Tensor, sigma2: float) -> torch.Tensor:
    """``log N(x; mu, A Aᵀ + sigma2·I)`` per row of ``x`` ``[N, D]``: pPCA's marginal likelihood, exactly."""
    covariance = A @ A.T + sigma2 * torch.eye(A.shape[0], dtype=A.dtype)
    return MultivariateNormal(mu, covariance_matrix=covariance).log_prob(x)


_POSITIVE_INTS = Rule(
    "a non-empty list of integers >= 1",
    lambda v: isinstance(v, list | tuple) and len(v) > 0 and all(number(ge=1, integer=True).test(c) for c in v),
)


class VAE(Objective):
    """A convolutional VAE: the backbone's features → two linear heads to ``μ`` and ``log σ²`` of a ``latent``-dim
    diagonal Gaussian posterior → a reparameterised draw ``z = μ + σ·ε`` → :class:`ConvDecoder` → [0, 1] pixels.

    Normalisation, per image (then averaged over the batch): the reconstruction term is ``−log p(x|z)`` of the
    crop's [0, 1] pixels (not the normalised ones the encoder sees), summed over all ``C·H·W`` pixels. With
    ``likelihood: gaussian`` it is a Gaussian of fixed ``sigma``: ``SSE/(2σ²) + D·log(σ√(2π))`` (the constant
    leaves the gradients alone but makes the ELBO a true bound on the log density, comparable across ``sigma``);
    with ``likelihood: bernoulli`` the summed binary cross-entropy (pixels read as probabilities). The KL is summed
    over the latent dimensions: closed form for ``prior: normal`` (N(0, I)); for ``prior: mixture``, the
    per-dimension mixture ``(1 − w)·N(0, 1) + w·U(−b, b)`` (:func:`mixture_log_prior`, ``w = mixture_weight``,
    ``b = mixture_bound``), the one-sample Monte-Carlo estimate on the same reparameterised ``z`` the decoder sees.
    The loss is ``reconstruction + β·KL``; the logged ``elbo`` metric is the β = 1 bound, ``−(reconstruction + KL)``.

    The decoder has no BatchNorm by default (``decoder_norm: false``): ``p(x|z)`` of one image must not depend on
    the rest of its batch, or the held-out ELBO would change with the batch it is measured in.
    """

    defaults = {
        "latent": 32,
        "beta": 1.0,
        "likelihood": "gaussian",
        "sigma": 0.1,
        "prior": "normal",
        "mixture_weight": 0.1,
        "mixture_bound": 6.0,
        "decoder_channels": [128, 64, 32],
        "decoder_norm": False,
    }
    rules = {
        "latent": number(ge=1, integer=True),
        "beta": number(ge=0),
        "likelihood": one_of("gaussian", "bernoulli"),
        "sigma": number(gt=0),
        "prior": one_of("normal", "mixture"),
        "mixture_weight": number(ge=0, lt=1),
        "mixture_bound": number(gt=0),
        "decoder_channels": _POSITIVE_INTS,
        "decoder_norm": instance_of(bool),
    }

    def __init__(self, backbone: Normalized, num_classes: int, options: Mapping | None = None) -> None:
        super().__init__(backbone, num_classes, options)
        latent = self.options["latent"]
        self.mean_head = nn.Linear(backbone.features_dim, latent)
        self.logvar_head = nn.Linear(backbone.features_dim, latent)
        try:
            self.decoder = ConvDecoder(latent, backbone.shape, self.options["decoder_channels"], self.decoder_norm)
        except ValueError as error:
            raise ConfigError(f"vae['decoder_channels']: {error}") from None

    @property
    def decoder_norm(self) -> bool:
        return self.options["decoder_norm"]

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(μ, log σ²)`` of ``q(z|x)`` for [0, 1] crops."""
        features = self.backbone(images)
        return self.mean_head(features), self.logvar_head(features)

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        return mixture_log_prior(z, self.options["mixture_weight"], self.options["mixture_bound"])

    def terms(self, images: torch.Tensor, generator: torch.Generator | None = None) -> Parts:
        """Per-image ``reconstruction`` (``−log p(x|z)``) and ``kl``, from one reparameterised draw."""
        mu, logvar = self.encode(images)
        noise = torch.randn(mu.shape, generator=generator, device=mu.device)
        z = mu + (0.5 * logvar).exp() * noise
        decoded = self.decoder(z)
        if self.options["likelihood"] == "gaussian":
            sigma = self.options["sigma"]
            sse = (decoded - images).square().flatten(1).sum(1)
            reconstruction = sse / (2 * sigma**2) + images[0].numel() * (math.log(sigma) + 0.5 * _LOG_2PI)
        else:
            reconstruction = F.binary_cross_entropy(decoded, images, reduction="none").flatten(1).sum(1)
        if self.options["prior"] == "normal":
            kl = gaussian_kl(mu, logvar)
        else:
            kl = monte_carlo_kl(z, mu, logvar, self.log_prior)
        return {"reconstruction": reconstruction, "kl": kl}

    def elbo(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        terms = self.terms(images, generator)
        return -(terms["reconstruction"] + terms["kl"])

    def forward(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, Parts]:
        terms = {k: v.mean() for k, v in self.terms(batch["image"]).items()}
        loss = terms["reconstruction"] + self.options["beta"] * terms["kl"]
        return loss, {**terms, "elbo": -(terms["reconstruction"] + terms["kl"]).detach()}

    def sample_prior(self, n: int, generator: torch.Generator) -> torch.Tensor:
        shape = (n, self.options["latent"])
        if self.options["prior"] == "normal":
            return torch.randn(shape, generator=generator)
        return sample_mixture_prior(shape, self.options["mixture_weight"], self.options["mixture_bound"], generator)

    def visuals(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """The decoded posterior means of ``images`` and as many decoded draws of the prior (seeded 0, the same
        draws at every validation, so the grids show the decoder changing and not the noise)."""
        device = images.device
        z = self.sample_prior(len(images), torch.Generator().manual_seed(0)).to(device)
        return {"reconstructions": self.decoder(self.encode(images)[0]), "samples": self.decoder(z)}


class LinearVAE(Objective):
    """The linear VAE, whose ELBO needs no sampling: ``x`` is the flattened normalised crop (``D`` values),
    ``q(z|x) = N(Wx + c, Σ)`` with ``Σ`` diagonal, learned and the same for every ``x``; ``p(x|z) = N(Uz + b,
    η_d² I)`` with ``U``, ``b`` and ``η_d`` learned; ``p(z) = N(0, η_e² I)`` (``prior_std`` = η_e). Per image:

    ``E_q log p(x|z) = −D/2·log(2π η_d²) − (‖x − U(Wx + c) − b‖² + tr(UΣUᵀ)) / (2η_d²)``,
    ``KL = ½ Σ_j [(Σ_j + m_j²)/η_e² − 1 − log Σ_j + 2 log η_e]`` for the mean ``m = Wx + c``,

    averaged over the batch. The encoder is the backbone, which must be the ``linear`` one
    (:class:`~facebox.perception.backbones.linear.LinearEncoder`: ``W`` its weight, ``c`` its bias; ``latent`` is
    its ``features``). Its global optimum is pPCA's maximum-likelihood fit with a tight ELBO (Lucas et al., 2019:
    at the optimum ``U`` has orthogonal columns, so the true posterior covariance is diagonal and ``q`` matches it).
    The density is that of the normalised pixels; a [0, 1] pixel density adds ``−Σ log std`` over the pixels.
    """

    defaults = {"prior_std": 1.0}
    rules = {"prior_std": number(gt=0)}

    def __init__(self, backbone: Normalized, num_classes: int, options: Mapping | None = None) -> None:
        super().__init__(backbone, num_classes, options)
        if not isinstance(backbone.backbone, LinearEncoder):
            name = type(backbone.backbone).__name__
            raise ConfigError(f"pretrain['backbone']: linear_vae needs the 'linear' backbone, got {name}")
        latent, pixels = backbone.features_dim, math.prod(backbone.shape)
        self.decoder_weight = nn.Parameter(torch.randn(pixels, latent) / math.sqrt(latent))  # U
        self.decoder_bias = nn.Parameter(torch.zeros(pixels))  # b
        self.log_noise = nn.Parameter(torch.zeros(()))  # log η_d
        self.posterior_logvar = nn.Parameter(torch.zeros(latent))  # log Σ

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        """``x``: the flattened crops, normalised as the encoder sees them."""
        return ((images - self.backbone.mean) / self.backbone.std).flatten(1)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu = self.backbone(images)
        return mu, self.posterior_logvar.expand_as(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's mean ``Uz + b`` as crops in [0, 1] pixels (un-normalised)."""
        x = F.linear(z, self.decoder_weight, self.decoder_bias).view(len(z), *self.backbone.shape)
        return x * self.backbone.std + self.backbone.mean

    def terms(self, images: torch.Tensor) -> Parts:
        """Per-image ``reconstruction`` (``−E_q log p(x|z)``) and ``kl``, both in closed form."""
        x, (mu, logvar) = self.inputs(images), self.encode(images)
        U, noise_var = self.decoder_weight, (2 * self.log_noise).exp()
        residual = (x - F.linear(mu, U, self.decoder_bias)).square().sum(1)
        trace = (U.square().sum(0) * logvar[0].exp()).sum()
        reconstruction = 0.5 * x.shape[1] * (_LOG_2PI + 2 * self.log_noise) + (residual + trace) / (2 * noise_var)
        prior_var = self.options["prior_std"] ** 2
        kl = 0.5 * ((logvar.exp() + mu.square()) / prior_var - 1 - logvar + math.log(prior_var)).sum(1)
        return {"reconstruction": reconstruction, "kl": kl}

    def elbo(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        terms = self.terms(images)
        return -(terms["reconstruction"] + terms["kl"])

    def forward(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, Parts]:
        terms = {k: v.mean() for k, v in self.terms(batch["image"]).items()}
        elbo = -(terms["reconstruction"] + terms["kl"])
        return -elbo, {**terms, "elbo": elbo.detach()}

    def visuals(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Decoded posterior means of ``images`` and decoded prior draws (seeded 0), clamped to [0, 1]."""
        z = torch.randn(len(images), self.backbone.features_dim, generator=torch.Generator().manual_seed(0))
        z = z * self.options["prior_std"]
        return {
            "reconstructions": self.decode(self.encode(images)[0]).clamp(0, 1),
            "samples": self.decode(z.to(images.device)).clamp(0, 1),
        }


def _images(dataset: torch.utils.data.Dataset, batch_size: int):
    for start in range(0, len(dataset), batch_size):
        yield torch.stack([dataset[i]["image"] for i in range(start, min(start + batch_size, len(dataset)))])


@torch.no_grad()
def held_out_elbo(objective: VAE | LinearVAE, dataset: torch.utils.data.Dataset, batch_size: int = 128) -> float:
    """The average per-image ELBO (nats) of ``dataset``'s crops, in eval mode, with the reparameterisation noise
    of a generator seeded 0 (so two models, or two calls, are measured on the same noise)."""
    was_training, generator = objective.training, torch.Generator().manual_seed(0)
    objective.eval()
    total = sum(objective.elbo(images, generator).sum().item() for images in _images(dataset, batch_size))
    objective.train(was_training)
    return total / len(dataset)


@torch.no_grad()
def active_latents(
    objective: VAE | LinearVAE, dataset: torch.utils.data.Dataset, threshold: float = 0.01, batch_size: int = 128
) -> int:
    """How many latent dimensions are active (Burda et al., 2016): those whose posterior mean varies over the
    data, ``Cov_x(E_q[z_j|x]) > threshold``; an inactive one says the same thing of every image (collapsed)."""
    was_training = objective.training
    objective.eval()
    means = torch.cat([objective.encode(images)[0] for images in _images(dataset, batch_size)])
    objective.train(was_training)
    return int((means.var(0) > threshold).sum())
