"""Inverting a DDPM: the edit-friendly noise maps replay to the image exactly (any network, T = 50 and 100), DDIM
inversion of the same model only approximately, and a region edit leaves the rest of the image as it was."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from facebox.perception.checkpoints import Normalized  # noqa: E402
from facebox.perception.diffusion.ddpm import DDPM  # noqa: E402
from facebox.perception.diffusion.inversion import (  # noqa: E402
    ddim_reconstruct,
    edit_friendly_inversion,
    edit_region,
    psnr,
    replay,
)
from facebox.perception.diffusion.unet import UNet  # noqa: E402

INFO = {"shape": [3, 16, 16], "mean": [0.4, 0.45, 0.5], "std": [0.25, 0.28, 0.26]}


def _model(timesteps: int) -> DDPM:
    torch.manual_seed(0)
    return DDPM(Normalized(UNet((3, 16, 16), channels=(8, 16), groups=4), INFO), 0, {"timesteps": timesteps}).eval()


def _images(n: int = 3) -> torch.Tensor:
    """Smooth crops away from the [0, 1] bounds, so the clamp of de-standardising cuts nothing."""
    g = torch.Generator().manual_seed(7)
    coarse = torch.rand(n, 3, 4, 4, generator=g)
    return 0.15 + 0.7 * torch.nn.functional.interpolate(coarse, size=16, mode="bilinear", align_corners=False)


@pytest.mark.parametrize("timesteps", [50, 100])
def test_the_noise_maps_replay_to_the_image_and_ddim_inversion_does_not(timesteps):
    model, images = _model(timesteps), _images()
    maps = edit_friendly_inversion(model, images, torch.Generator().manual_seed(0))
    assert maps.zs.shape == maps.xs.shape == (timesteps, *images.shape)
    rebuilt = replay(model, maps.xs[-1], maps.zs)
    assert (rebuilt - images).abs().max() < 1e-3 and psnr(rebuilt, images) >= 50
    # DDIM's ODE retraces itself only as far as ε̂ stays put along a step: close, never exact
    ddim = (ddim_reconstruct(model, images, timesteps) - images).abs().max()
    assert (rebuilt - images).abs().max() < ddim / 10
    # the maps belong to the image: another image's x_T with them is not this image
    assert psnr(replay(model, maps.xs[-1].flip(0), maps.zs), images) < 30


def test_the_maps_are_not_the_samplers_white_noise():
    """The extracted z's carry the image: larger than unit variance and correlated from step to step."""
    model, images = _model(50), _images()
    zs = edit_friendly_inversion(model, images, torch.Generator().manual_seed(0)).zs
    assert zs[1:].var() > 1.2


def test_a_region_edit_keeps_the_rest_of_the_image():
    model, images = _model(50), _images(2)
    mask = torch.zeros(1, 1, 16, 16, dtype=torch.bool)
    mask[..., 5:11, 5:11] = True
    red = torch.tensor([0.9, 0.1, 0.1])
    outsides = [edit_region(model, images, mask, red, skip, torch.Generator().manual_seed(0))[1] for skip in (0, 25)]
    edited, outside = edit_region(model, images, mask, red, skip=40, generator=torch.Generator().manual_seed(0))
    # fewer replayed steps spread the edit less far (this network is untrained; a trained one is measured in
    # benchmarks/generative.py)
    assert outsides[0] < outsides[1] < outside and outside >= 30 and edited.shape == images.shape
    inside_before = images[mask.expand_as(images)].view(2, 3, -1).mean(-1)
    inside_after = edited[mask.expand_as(edited)].view(2, 3, -1).mean(-1)
    assert (inside_after[:, 0] - inside_after[:, 1]).min() > (inside_before[:, 0] - inside_before[:, 1]).max() + 0.2
    with pytest.raises(ValueError, match="skip"):
        edit_region(model, images, mask, red, skip=50, generator=torch.Generator().manual_seed(0))
