"""The VAEs: their KL terms against Monte Carlo, the linear VAE against exact pPCA, and a short trainer run."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from facebox.config import ConfigError  # noqa: E402
from facebox.perception import trainer  # noqa: E402
from facebox.perception.backbones import build_backbone  # noqa: E402
from facebox.perception.backbones.linear import LinearEncoder  # noqa: E402
from facebox.perception.backbones.strided import StridedCNN  # noqa: E402
from facebox.perception.checkpoints import Normalized, read_checkpoint  # noqa: E402
from facebox.perception.data import FaceCrops  # noqa: E402
from facebox.perception.generative.vae import (  # noqa: E402
    VAE,
    LinearVAE,
    active_latents,
    exact_ppca_log_likelihood,
    gaussian_kl,
    held_out_elbo,  # noqa: E402
    mixture_log_prior,
    monte_carlo_kl,
    sample_mixture_prior,
)

CROPS = {"size": 16, "context": 0.2, "jitter": 0.05, "flip": True, "cache": True}
TINY_CONFIG = {
    "backbone": "strided",
    "backbone_kwargs": {"channels": [8, 16], "features": 32},
    "crops": CROPS,
    "objective": {"latent": 8, "decoder_channels": [16, 8]},
    "steps": 60,
    "batch_size": 16,
    "lr": 3e-3,
    "log_every": 10,
    "validate_every": 0,
    "checkpoint_every": 0,
}
INFO = {"shape": [3, 16, 16], "mean": [0.5] * 3, "std": [0.25] * 3}


def _vae(**options) -> VAE:
    torch.manual_seed(0)
    backbone = Normalized(StridedCNN((3, 16, 16), channels=(8, 16), features=32), INFO)
    return VAE(backbone, 0, {"latent": 8, "decoder_channels": [16, 8], **options})


def test_the_closed_form_gaussian_kl_is_the_monte_carlo_one():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g)
    z = mu + (0.5 * logvar).exp() * torch.randn(200_000, 4, 5, generator=g)
    standard = torch.distributions.Normal(0.0, 1.0)
    estimate = monte_carlo_kl(z, mu, logvar, lambda v: standard.log_prob(v).sum(-1))
    torch.testing.assert_close(estimate, gaussian_kl(mu, logvar), atol=0.03, rtol=0.01)
    assert gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)).abs().max() == 0  # q = p


def test_the_mixture_prior_without_its_uniform_part_is_the_normal_prior():
    g = torch.Generator().manual_seed(1)
    mu, logvar = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g) - 1
    z = mu + (0.5 * logvar).exp() * torch.randn(50_000, 6, 4, generator=g)
    standard = torch.distributions.Normal(0.0, 1.0)
    normal = monte_carlo_kl(z, mu, logvar, lambda v: standard.log_prob(v).sum(-1))
    mixture = monte_carlo_kl(z, mu, logvar, lambda v: mixture_log_prior(v, weight_uniform=0.0))
    torch.testing.assert_close(mixture, normal, atol=1e-5, rtol=1e-6)  # same samples: the same estimate
    torch.testing.assert_close(mixture, gaussian_kl(mu, logvar), atol=0.05, rtol=0.01)


def test_the_mixture_prior_is_a_per_dimension_mixture_and_a_density():
    point = torch.tensor([[7.0, 0.0]])  # beyond the bound in the first coordinate: only the normal part is left
    expected = math.log(0.9) - 24.5 - 0.5 * math.log(2 * math.pi)
    expected += math.log(0.9 / math.sqrt(2 * math.pi) + 0.1 / 12)
    assert mixture_log_prior(point).item() == pytest.approx(expected, rel=1e-5)
    grid = torch.linspace(-12, 12, 240_001)[:, None]  # a 1-D density integrates to 1
    assert torch.trapezoid(mixture_log_prior(grid).exp(), grid[:, 0]).item() == pytest.approx(1.0, abs=1e-3)
    draws = sample_mixture_prior((200_000, 1), 0.1, 6.0, torch.Generator().manual_seed(0))
    assert (draws.abs() > 4).float().mean().item() == pytest.approx(0.1 * 2 / 6, abs=0.003)  # the uniform tails


def test_the_vae_loss_is_the_documented_per_image_sum():
    vae = _vae(sigma=0.5, beta=2.0).eval()
    images = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    terms = vae.terms(images, torch.Generator().manual_seed(5))
    mu, logvar = vae.encode(images)
    z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=torch.Generator().manual_seed(5))
    decoded = vae.decoder(z)
    log_p = torch.distributions.Normal(decoded, 0.5).log_prob(images).flatten(1).sum(1)
    torch.testing.assert_close(terms["reconstruction"], -log_p)
    torch.testing.assert_close(terms["kl"], gaussian_kl(mu, logvar))
    torch.manual_seed(5)
    loss, parts = vae({"image": images})
    torch.testing.assert_close(loss, (-log_p + 2.0 * gaussian_kl(mu, logvar)).mean())
    torch.testing.assert_close(parts["elbo"], (log_p - gaussian_kl(mu, logvar)).mean())
    bernoulli = _vae(likelihood="bernoulli").eval()
    torch.manual_seed(5)
    mu, logvar = bernoulli.encode(images)
    decoded = bernoulli.decoder(mu + (0.5 * logvar).exp() * torch.randn(mu.shape))
    bce = -(images * decoded.log() + (1 - images) * (1 - decoded).log()).flatten(1).sum(1).mean()
    torch.manual_seed(5)
    assert bernoulli({"image": images})[1]["reconstruction"].item() == pytest.approx(bce.item(), rel=1e-5)


def test_the_mixture_vae_takes_its_kl_from_the_decoders_sample():
    vae = _vae(prior="mixture", mixture_weight=0.0).eval()
    images = torch.rand(64, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    kl = vae.terms(images, torch.Generator().manual_seed(0))["kl"]
    mu, logvar = vae.encode(images)
    z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(kl, monte_carlo_kl(z, mu, logvar, lambda v: mixture_log_prior(v, 0.0)))
    # one sample each: unbiased for the closed form, so the batch means agree to within its noise
    assert kl.mean().item() == pytest.approx(gaussian_kl(mu, logvar).mean().item(), abs=0.5)


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"latent": 0}, "latent"),
        ({"beta": -1.0}, "beta"),
        ({"prior": "laplace"}, "prior"),
        ({"likelihood": "poisson"}, "likelihood"),
        ({"sigma": 0}, "sigma"),
        ({"mixture_weight": 1.0}, "mixture_weight"),
        ({"decoder_channels": []}, "decoder_channels"),
        ({"decoder_channels": [8, 8, 8, 8, 8]}, "decoder_channels"),  # 16 px cannot be halved 5 times
        ({"decoder_norm": "yes"}, "decoder_norm"),
        ({"latnet": 8}, "latnet"),
    ],
)
def test_bad_options_raise_a_config_error_naming_the_key(options, key):
    with pytest.raises(ConfigError, match=key):
        _vae(**options)


def test_the_linear_vae_needs_the_linear_backbone_and_checks_its_options():
    with pytest.raises(ConfigError, match="linear"):
        LinearVAE(Normalized(StridedCNN((3, 16, 16), (8, 16), 8), INFO), 0)
    with pytest.raises(ConfigError, match="prior_std"):
        LinearVAE(Normalized(LinearEncoder((3, 16, 16), 4), INFO), 0, {"prior_std": 0.0})


def test_visuals_are_images_in_range_and_do_not_touch_the_global_rng():
    images = torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    for objective in (_vae(), _vae(prior="mixture"), LinearVAE(Normalized(LinearEncoder((3, 16, 16), 4), INFO), 0)):
        state = torch.get_rng_state()
        with torch.no_grad():
            first, second = objective.visuals(images), objective.visuals(images)
        assert torch.equal(torch.get_rng_state(), state)
        assert set(first) == {"reconstructions", "samples"}
        for key, grid in first.items():
            assert grid.shape == images.shape and 0 <= grid.min() and grid.max() <= 1
            assert torch.equal(grid, second[key])  # the same prior draws at every validation


def _ppca(D: int = 12, d: int = 3, n: int = 4000):
    g = torch.Generator().manual_seed(1)
    A = torch.randn(D, d, generator=g) * torch.tensor([3.0, 2.0, 1.5])
    mu, sigma2 = torch.randn(D, generator=g), 0.25
    x = torch.randn(n, d, generator=g) @ A.T + mu + math.sqrt(sigma2) * torch.randn(n, D, generator=g)
    return x, A, mu, sigma2


def _linear_vae(D: int, latent: int) -> LinearVAE:
    torch.manual_seed(0)
    info = {"shape": [D, 1, 1], "mean": [0.0] * D, "std": [1.0] * D}  # x is the data itself
    return LinearVAE(Normalized(LinearEncoder((D, 1, 1), features=latent), info), 0)


def test_the_linear_vae_trained_by_adam_is_ppca_with_a_tight_elbo():
    from scipy.linalg import subspace_angles

    x, A, mu, sigma2 = _ppca()
    vae, batch, steps = _linear_vae(12, 3), {"image": x.view(len(x), 12, 1, 1)}, 2000
    optimizer = torch.optim.Adam(vae.parameters(), lr=0.05)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(steps):
        loss, _ = vae(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    with torch.no_grad():
        elbo = vae.elbo(batch["image"]).mean().item()
        exact = exact_ppca_log_likelihood(x, A, mu, sigma2).mean().item()
        U, b, noise = vae.decoder_weight, vae.decoder_bias, (2 * vae.log_noise).exp().item()
        own = exact_ppca_log_likelihood(x, U, b, noise).mean().item()  # the trained model's own likelihood
    assert elbo <= own + 1e-4  # a lower bound on it
    assert abs(elbo - exact) < 0.005 * abs(exact), (elbo, exact)
    directions = torch.linalg.svd(x - x.mean(0), full_matrices=False).Vh[:3].T
    angles = subspace_angles(U.detach().double().numpy(), directions.double().numpy())
    assert math.degrees(angles.max()) < 5, angles
    assert noise == pytest.approx(sigma2, rel=0.1) and torch.allclose(b.detach(), x.mean(0), atol=0.1)


def test_active_latents_count_the_dimensions_whose_mean_varies():
    x = torch.randn(500, 12, generator=torch.Generator().manual_seed(0))
    vae = _linear_vae(12, 3)
    with torch.no_grad():
        vae.backbone.backbone.linear.weight.zero_()
        vae.backbone.backbone.linear.weight[0, 0] = 1.0  # Var = 1: active
        vae.backbone.backbone.linear.weight[2, 1] = 0.05  # Var = 0.0025: below Burda et al.'s 0.01
        vae.backbone.backbone.linear.bias.fill_(3.0)  # a constant shift changes nothing
    dataset = [{"image": row.view(12, 1, 1)} for row in x]
    assert active_latents(vae, dataset) == 1
    assert active_latents(vae, dataset, threshold=0.001) == 2


def test_a_short_run_beats_the_untrained_vae_on_held_out_faces_and_reloads(tmp_path):
    held_out = FaceCrops(["synthetic?length=48&seed=4"], size=16, context=0.2, jitter=0.0, flip=False, cache=True)
    seen = {}

    def validate(objective):
        seen["objective"] = objective
        elbo = held_out_elbo(objective, held_out)
        seen.setdefault("start", elbo)
        return {"elbo": elbo, "active": active_latents(objective, held_out)}

    out = tmp_path / "v.pt"
    saved = trainer.train(VAE, "vae", ["synthetic?length=64"], out, TINY_CONFIG, logdir=tmp_path, validate=validate)
    assert saved["metrics"]["elbo"] > seen["start"] + 100, (seen["start"], saved["metrics"])

    checkpoint = read_checkpoint(out)
    spec = checkpoint["backbone"]
    backbone = build_backbone(spec["name"], checkpoint["input"]["shape"], spec["kwargs"])
    backbone.load_state_dict(spec["state_dict"])
    reloaded = VAE(Normalized(backbone, checkpoint["input"]), 0, checkpoint["objective"]["kwargs"])
    missing, unexpected = reloaded.load_state_dict(checkpoint["objective"]["state_dict"], strict=False)
    assert not unexpected and all(k.startswith("backbone.") for k in missing)
    images = torch.stack([held_out[i]["image"] for i in range(8)])
    trained = seen["objective"].eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded.eval().visuals(images), trained.visuals(images))
    assert held_out_elbo(reloaded, held_out) == pytest.approx(saved["metrics"]["elbo"], rel=1e-6)
