"""DDPM: the closed-form forward process, the schedule against diffusers', the ancestral step's mean, the U-Net as a
backbone, and a short run whose held-out ε-MSE beats the untrained network's."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from facebox.config import ConfigError  # noqa: E402
from facebox.perception import backbones, trainer  # noqa: E402
from facebox.perception.checkpoints import Normalized, load_backbone, read_checkpoint  # noqa: E402
from facebox.perception.data import FaceCrops  # noqa: E402
from facebox.perception.diffusion.ddpm import (  # noqa: E402
    DDPM,
    cumulative_alphas,
    epsilon_mse,
    linear_betas,
    posterior_mean,
    q_sample,
)
from facebox.perception.diffusion.unet import UNet  # noqa: E402

INFO = {"shape": [3, 16, 16], "mean": [0.4, 0.45, 0.5], "std": [0.25, 0.28, 0.26]}


def _model(timesteps: int = 50, seed: int = 0) -> DDPM:
    torch.manual_seed(seed)
    unet = UNet((3, 16, 16), channels=(8, 16), groups=4)
    return DDPM(Normalized(unet, INFO), 0, {"timesteps": timesteps, "sample_steps": 5, "visual_samples": 4})


@pytest.mark.parametrize("steps", [50, 1000])
def test_the_closed_form_forward_process_is_the_chain_composed(steps):
    """x_t = √(1-β_t) x_{t-1} + √β_t ε composed t times is affine in x0 with Gaussian noise: its coefficient is the
    product of √(1-β_s) and its variance accumulates as v ← (1-β) v + β; both must be √ᾱ_t and 1-ᾱ_t."""
    betas = linear_betas(steps)
    abar = cumulative_alphas(betas)
    coefficient, variance = torch.ones((), dtype=torch.float64), torch.zeros((), dtype=torch.float64)
    for t in range(steps):
        coefficient, variance = coefficient * (1 - betas[t]).sqrt(), (1 - betas[t]) * variance + betas[t]
        torch.testing.assert_close(coefficient, abar[t].sqrt(), rtol=1e-12, atol=0)
        torch.testing.assert_close(variance, 1 - abar[t], rtol=1e-12, atol=1e-15)
    assert betas[0] == pytest.approx(1e-4) and betas[-1] == pytest.approx(0.02)


def test_the_closed_form_matches_the_chain_by_monte_carlo():
    steps, x0 = 50, torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)
    betas = linear_betas(steps)
    abar = cumulative_alphas(betas)
    g = torch.Generator().manual_seed(0)
    x = x0.expand(200_000, 3).clone()
    for t in range(steps):
        x = (1 - betas[t]).sqrt() * x + betas[t].sqrt() * torch.randn(x.shape, generator=g, dtype=x.dtype)
    direct = q_sample(x0.expand(200_000, 3), steps - 1, torch.randn(x.shape, generator=g, dtype=x.dtype), abar)
    for sample in (x, direct):  # mean √ᾱ x0 and std √(1-ᾱ) within ~5 standard errors
        torch.testing.assert_close(sample.mean(0), abar[-1].sqrt() * x0, atol=0.006, rtol=0)
        torch.testing.assert_close(sample.std(0), (1 - abar[-1]).sqrt().expand(3), atol=0.004, rtol=0)


@pytest.mark.parametrize("steps", [50, 1000])
def test_the_schedule_is_diffusers(steps):
    diffusers = pytest.importorskip("diffusers")
    reference = diffusers.DDPMScheduler(
        num_train_timesteps=steps, beta_start=1e-4, beta_end=0.02, beta_schedule="linear"
    )
    model = _model(steps)
    torch.testing.assert_close(model.betas.float(), reference.betas, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(model.alphas_cumprod.float(), reference.alphas_cumprod, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("t", [0, 1, 17, 49])
def test_the_ancestral_step_mean_is_the_posterior_mean_of_the_predicted_x0(t):
    """Ho's μ_θ(x_t) = (x_t - β/√(1-ᾱ) ε̂) / √α equals μ̃_t(x_t, x̂0) for x̂0 = (x_t - √(1-ᾱ) ε̂) / √ᾱ; μ̃ is checked
    both by its closed form and by Bayes' rule (precisions add) on q(x_{t-1} | x0) q(x_t | x_{t-1})."""
    model = _model(50).double()
    x_t = torch.randn(3, 3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        x0_hat = model.predict_x0(x_t, t, model.epsilon(x_t, t))
        mean = model.ancestral_step(x_t, t, torch.zeros_like(x_t))
    betas = linear_betas(50)
    torch.testing.assert_close(mean, posterior_mean(x0_hat, x_t, t, betas))
    if t == 0:  # q(x_{-1} | x_0) is the data itself: the mean is x̂0
        torch.testing.assert_close(mean, x0_hat)
        return
    abar = cumulative_alphas(betas)
    precision = 1 / (1 - abar[t - 1]) + (1 - betas[t]) / betas[t]
    bayes = (abar[t - 1].sqrt() / (1 - abar[t - 1]) * x0_hat + (1 - betas[t]).sqrt() / betas[t] * x_t) / precision
    torch.testing.assert_close(mean, bayes)


def test_the_unet_is_a_backbone_and_a_full_resolution_denoiser():
    torch.manual_seed(0)
    net = backbones.BACKBONES.get("unet", UNet)((3, 32, 32), channels=(8, 16, 32), groups=4)
    x = torch.rand(2, 3, 32, 32)
    assert net(x).shape == (2, net.features_dim) == (2, 32)
    assert net.denoise(x, torch.tensor([3, 900])).shape == x.shape
    maps = net.features(x, 10)
    assert [m.shape[1:] for m in maps] == [(32, 8, 8), (16, 16, 16), (8, 32, 32)]
    # the timestep matters, and the features are x's at feature_t
    assert not torch.allclose(net.denoise(x, 0), net.denoise(x, 500))
    torch.testing.assert_close(net(x), net._encode(x, net._embed(x, net.feature_t))[0].mean((2, 3)))
    # each image alone (GroupNorm has no batch statistics), so a frozen encoder is deterministic per glimpse
    torch.testing.assert_close(net(x[1:]), net(x)[1:])


def test_bad_options_are_named(monkeypatch):
    monkeypatch.setitem(backbones.BACKBONES, "unet", UNet)
    with pytest.raises(ConfigError, match="groups=8"):
        backbones.build_backbone("unet", (3, 32, 32), {"channels": [12, 24]})
    with pytest.raises(ConfigError, match="cannot halve a 20x20 image 3 times"):
        backbones.build_backbone("unet", (3, 20, 20), {"channels": [8, 16, 16, 16]})
    with pytest.raises(ConfigError, match="feature_t"):
        backbones.build_backbone("unet", (3, 32, 32), {"feature_t": -1})
    net = Normalized(UNet((3, 16, 16), channels=(8, 16), groups=4), INFO)
    for options, key in [
        ({"timesteps": 1}, "timesteps"),
        ({"beta_end": 1.5}, "beta_end"),
        ({"beta_start": 0.02, "beta_end": 1e-4}, "beta_end"),
        ({"timesteps": 10, "sample_steps": 20}, "sample_steps"),
        ({"schedule": "cosine"}, "schedule"),
    ]:
        with pytest.raises(ConfigError, match=key):
            DDPM(net, 0, options)
    strided = Normalized(backbones.build_backbone("strided", (3, 16, 16), {"channels": [4, 8]}), INFO)
    with pytest.raises(ConfigError, match="backbone"):
        DDPM(strided, 0, {})


def test_sampling_is_seeded_and_in_range():
    model = _model(50).eval()
    ddim = model.sample(3, torch.Generator().manual_seed(0), steps=5)
    assert ddim.shape == (3, 3, 16, 16) and 0 <= ddim.min() and ddim.max() <= 1
    torch.testing.assert_close(ddim, model.sample(3, torch.Generator().manual_seed(0), steps=5))
    ancestral = model.sample(2, torch.Generator().manual_seed(0))
    assert ancestral.shape == (2, 3, 16, 16)
    images = torch.rand(4, 3, 16, 16)
    state = torch.get_rng_state()
    visuals = model.visuals(images)
    assert visuals["samples"].shape == (4, 3, 16, 16) and torch.equal(torch.get_rng_state(), state)


def test_a_short_run_lowers_the_held_out_epsilon_mse_and_its_checkpoint_samples(monkeypatch, tmp_path):
    monkeypatch.setitem(backbones.BACKBONES, "unet", UNet)
    crops = {"size": 16, "context": 0.2, "jitter": 0.05, "flip": True, "cache": True}
    held_out = FaceCrops(["synthetic?length=32"], seed=123, **{**crops, "jitter": 0.0, "flip": False})
    images = torch.stack([held_out[i]["image"] for i in range(32)])
    t_grid = [0, 10, 50, 100, 200, 400, 700, 999]
    start = {}

    def validate(objective):
        mse = epsilon_mse(objective, images, t_grid).mean()
        start.setdefault("mse", float(mse))
        return {"epsilon_mse": mse}

    config = {
        "backbone": "unet",
        "backbone_kwargs": {"channels": [8, 16], "groups": 4},
        "crops": crops,
        "objective": {"timesteps": 1000, "sample_steps": 4, "visual_samples": 4},
        "steps": 60,
        "batch_size": 32,
        "lr": 3e-3,
        "log_every": 20,
        "validate_every": 0,
        "checkpoint_every": 0,
    }
    out = tmp_path / "d.pt"
    saved = trainer.train(DDPM, "ddpm", ["synthetic?length=64"], out, config, logdir=tmp_path, validate=validate)
    assert saved["metrics"]["epsilon_mse"] < 0.8 * start["mse"], (start, saved["metrics"])
    # the checkpoint rebuilds the same denoiser, frozen, as a backbone and as a DDPM
    loaded = DDPM.from_checkpoint(out)
    assert float(epsilon_mse(loaded, images, t_grid).mean()) == pytest.approx(saved["metrics"]["epsilon_mse"])
    encoder = load_backbone(out)
    assert encoder(images[:2]).shape == (2, 16) and not any(p.requires_grad for p in encoder.parameters())
    assert read_checkpoint(out)["objective"]["state_dict"] == {}  # the schedule is rebuilt from the options
    assert loaded.sample(2, torch.Generator().manual_seed(0), steps=4).shape == (2, 3, 16, 16)
