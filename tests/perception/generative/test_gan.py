"""DCGAN and WGAN-GP: their losses against closed forms, the players' turns, and training through the one trainer
(only the player whose turn it is moves, a resumed run is bit-identical, samples get closer to the data)."""

from __future__ import annotations

import math
import shutil

import pytest

torch = pytest.importorskip("torch")

from facebox.config import ConfigError  # noqa: E402
from facebox.perception import trainer  # noqa: E402
from facebox.perception.backbones.strided import StridedCNN  # noqa: E402
from facebox.perception.checkpoints import Normalized  # noqa: E402
from facebox.perception.data import FaceCrops  # noqa: E402
from facebox.perception.generative.gan import (  # noqa: E402
    GAN,
    WGANGP,
    critic_loss,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    wasserstein_generator_loss,
)
from facebox.perception.generative.metrics import frechet_distance, one_nn_accuracy  # noqa: E402

DATA = ["synthetic?length=64"]
TINY = {
    "backbone": "strided",
    "backbone_kwargs": {"channels": [8, 16], "features": 16, "norm": "none"},
    "crops": {"size": 16, "context": 0.2, "jitter": 0.05, "flip": True, "cache": True},
    "objective": {"latent": 8, "generator_channels": [16, 8]},
    "steps": 6,
    "batch_size": 16,
    "lr": 1e-3,
    "weight_decay": 0.0,
    "betas": [0.0, 0.9],
    "warmup": 0.0,
    "log_every": 1,
    "validate_every": 0,
    "checkpoint_every": 0,
    "projector": 0,
}
INFO = {"shape": [3, 16, 16], "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}


def _backbone(norm: str = "none") -> Normalized:
    return Normalized(StridedCNN((3, 16, 16), [8, 16], 16, norm=norm), INFO)


def test_the_gan_losses_match_their_closed_forms():
    log3 = math.log(3.0)
    # D = 0.5 and 0.75 on the reals, 1 - D = 0.5 and 0.75 on the fakes: log 2 + log 4/3 per side, averaged
    d = discriminator_loss(torch.tensor([0.0, log3]), torch.tensor([0.0, -log3]))
    assert d.item() == pytest.approx(math.log(2) + math.log(4 / 3), rel=1e-6)
    # non-saturating: -log D(G(z)) with D = 0.75 and 0.25
    assert generator_loss(torch.tensor([log3, -log3])).item() == pytest.approx((math.log(4 / 3) + math.log(4)) / 2)
    # and its gradient does not vanish where D rejects the fake confidently (the minimax form's would, ~e^-10)
    logit = torch.tensor([-10.0], requires_grad=True)
    generator_loss(logit).backward()
    assert logit.grad.item() == pytest.approx(-1.0, abs=1e-4)
    assert critic_loss(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, -0.5])).item() == pytest.approx(-2.0)
    assert wasserstein_generator_loss(torch.tensor([0.5, -1.5])).item() == pytest.approx(0.5)


def test_the_gradient_penalty_is_zero_for_a_unit_norm_linear_critic_only():
    torch.manual_seed(0)
    real, fake = torch.rand(8, 3, 4, 4), torch.rand(8, 3, 4, 4)
    weight = torch.randn(48, dtype=torch.float32)
    weight = weight / weight.norm()
    penalty, norms = gradient_penalty(lambda x: x.flatten(1) @ weight, real, fake)
    assert penalty.item() == pytest.approx(0.0, abs=1e-10) and torch.allclose(norms, torch.ones(8))
    penalty, norms = gradient_penalty(lambda x: x.flatten(1) @ (3 * weight), real, fake)
    assert penalty.item() == pytest.approx(4.0, rel=1e-5) and torch.allclose(norms, torch.full((8,), 3.0))
    # the penalty trains the critic: it has a gradient with respect to the critic's weights
    w = (3 * weight).requires_grad_(True)
    gradient_penalty(lambda x: x.flatten(1) @ w, real, fake)[0].backward()
    assert w.grad.norm() > 0


def test_the_players_take_turns_and_wgan_gp_refuses_a_batch_norm_critic():
    gan, wgan = GAN(_backbone("batch")), WGANGP(_backbone("none"))
    assert [gan.turn(s) for s in range(4)] == ["discriminator", "generator"] * 2
    assert [wgan.turn(s) for s in range(12)] == (["critic"] * 5 + ["generator"]) * 2
    assert [WGANGP(_backbone(), options={"n_critic": 2}).turn(s) for s in range(3)] == ["critic"] * 2 + ["generator"]
    judge, generator = wgan.players()["critic"], wgan.players()["generator"]
    assert {id(p) for p in judge} == {id(p) for p in [*wgan.backbone.parameters(), *wgan.head.parameters()]}
    assert {id(p) for p in generator} == {id(p) for p in wgan.generator.parameters()}
    with pytest.raises(ConfigError, match="per sample"):
        WGANGP(_backbone("batch"))
    with pytest.raises(ConfigError, match="n_critic"):
        WGANGP(_backbone(), options={"n_critic": 0})


def test_visuals_draw_fixed_samples_without_touching_the_global_rng():
    gan, images = GAN(_backbone("batch")).eval(), torch.rand(4, 3, 16, 16)
    state = torch.get_rng_state()
    with torch.no_grad():
        first, second = gan.visuals(images)["samples"], gan.visuals(images)["samples"]
    assert torch.equal(torch.get_rng_state(), state) and torch.equal(first, second)
    assert first.shape == (64, 3, 16, 16) and 0 <= first.min() and first.max() <= 1


def _params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def test_the_trainer_moves_only_the_player_whose_turn_it_is(tmp_path):
    snapshots = []

    def record(objective):  # at step 0 and after every step (validate_every: 1)
        critic = {**_params(objective.backbone), **_params(objective.head)}
        snapshots.append((critic, _params(objective.generator)))
        return {}

    config = {**TINY, "validate_every": 1}
    trainer.train(WGANGP, "wgan_gp", DATA, tmp_path / "w.pt", config, logdir=tmp_path, validate=record)
    assert len(snapshots) == 7
    for step, ((c0, g0), (c1, g1)) in enumerate(zip(snapshots, snapshots[1:], strict=False)):
        critic_moved = any(not torch.equal(c0[k], c1[k]) for k in c0)
        generator_moved = any(not torch.equal(g0[k], g1[k]) for k in g0)
        assert (critic_moved, generator_moved) == ((True, False) if step < 5 else (False, True)), step


def test_a_mid_run_checkpoint_resumes_to_the_uninterrupted_weights(tmp_path):
    calls = []

    def keep_the_step_2_checkpoint(objective):  # at step 0, 2, 4, 6, each before that step's checkpoint
        calls.append(1)
        if len(calls) == 3:
            shutil.copy(tmp_path / "whole.pt", tmp_path / "cut.pt")
        return {}

    # n_critic 1: both players have optimizer state at the cut, and both move after it
    config = {**TINY, "objective": {**TINY["objective"], "n_critic": 1}, "validate_every": 2, "checkpoint_every": 2}
    whole = trainer.train(
        WGANGP, "wgan_gp", DATA, tmp_path / "whole.pt", config, logdir=tmp_path, validate=keep_the_step_2_checkpoint
    )
    assert torch.load(tmp_path / "cut.pt", weights_only=True)["step"] == 2
    cut = trainer.train(WGANGP, "wgan_gp", DATA, tmp_path / "cut.pt", config, resume=True, logdir=tmp_path)
    for part in ("backbone", "objective"):
        a, b = whole[part]["state_dict"], cut[part]["state_dict"]
        assert a.keys() == b.keys() and any(k.startswith("generator.") for k in whole["objective"]["state_dict"])
        assert all(torch.equal(a[k], b[k]) for k in a), part
    assert set(cut["trainer"]["optimizers"]) == {"critic", "generator"}


def test_a_short_dcgan_run_brings_its_samples_closer_to_the_crops(tmp_path):
    crops = FaceCrops(DATA, size=16, context=0.2, jitter=0.0, flip=False, seed=1)
    real = torch.stack([crops[i]["image"] for i in range(len(crops))])
    torch.manual_seed(123)
    judge = StridedCNN((3, 16, 16), [16, 32], 32).eval()  # a fixed random network's features, of centred pixels
    scores = []

    def validate(objective):  # at step 0 (the untrained generator) and at the end
        torch.manual_seed(0)
        real_features, fake_features = judge((real - 0.5) / 0.25), judge((objective.sample(len(real)) - 0.5) / 0.25)
        scores.append((frechet_distance(real_features, fake_features), one_nn_accuracy(real_features, fake_features)))
        return dict(zip(("fd", "one_nn"), scores[-1], strict=True))

    config = {
        **TINY,
        "backbone_kwargs": {"channels": [16, 32], "features": 32, "norm": "batch"},
        "objective": {"latent": 16, "generator_channels": [32, 16]},
        "steps": 160,
        "batch_size": 32,
        "betas": [0.5, 0.999],
        "log_every": 40,
    }
    saved = trainer.train(GAN, "gan", DATA, tmp_path / "g.pt", config, logdir=tmp_path, validate=validate)
    (fd_before, nn_before), (fd_after, nn_after) = scores
    assert saved["step"] == 160 and fd_after < 0.7 * fd_before and nn_after < nn_before - 0.05, scores
