"""DANN for face localization: windows (positives decode to their face, negatives miss every face, a held-out split
of the real images), labels of the target never reaching the loss, the reversed domain gradient, learning, and the
evaluation metrics."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from torch.nn import functional as F  # noqa: E402
from torchvision.ops import box_iou  # noqa: E402

from facebox.config import ConfigError  # noqa: E402
from facebox.envs.data import ListDataset  # noqa: E402
from facebox.envs.data.record import Entry  # noqa: E402
from facebox.perception.backbones import build_backbone  # noqa: E402
from facebox.perception.checkpoints import Normalized  # noqa: E402
from facebox.perception.dann import (  # noqa: E402
    DANN,
    Windows,
    decode_offsets,
    encode_offsets,
    evaluate_dann,
)
from facebox.perception.data import REAL, SYNTHETIC  # noqa: E402
from facebox.perception.reversal import dann_lambda  # noqa: E402

SYNTH = "synthetic?seed=3&length=8"


@pytest.fixture
def photos(noise_photos):
    """Ten 96 px noise images, the odd ones with two faces: a stand-in real source with known boxes."""
    return noise_photos(10, (96, 96), lambda i: [10 + i, 12, 40 + i, 50], [60, 50, 84, 80])


def tiny_dann(options=None, seed=0):
    torch.manual_seed(seed)
    backbone = build_backbone("resnet", (3, 32, 32), {"channels": [8, 16, 32, 64], "features": 32})
    info = {"shape": [3, 32, 32], "mean": [0.5] * 3, "std": [0.25] * 3}
    return DANN(Normalized(backbone, info), 0, options)


def collate(windows, indices=None):
    indices = range(len(windows)) if indices is None else indices
    return torch.utils.data.default_collate([windows[i] for i in indices])


def test_offsets_encode_and_decode_the_agent_parametrisation():
    window, box = torch.tensor([10.0, 20.0, 50.0, 60.0]), torch.tensor([20.0, 30.0, 40.0, 60.0])
    offsets = encode_offsets(box, window)
    assert torch.allclose(offsets, torch.tensor([0.0, 0.125, math.log(0.5), math.log(0.75)]))
    assert torch.allclose(decode_offsets(offsets, window), box)


def test_positives_decode_to_their_face_and_negatives_miss_every_face(photos):
    windows = Windows(photos, size=32, negatives=0.5, seed=1, hold_out=0)
    assert len(windows) == 30  # 15 faces, as many negatives
    offsets = []
    for epoch in range(3):
        windows.set_epoch(epoch)
        for i, (_, image, face) in enumerate(windows.items):
            item, faces = windows[i], torch.from_numpy(photos[image].boxes)
            assert item["image"].shape == (3, 32, 32) and item["domain"] == REAL and not item["labelled"]
            window = item["window"]
            assert window[2] - window[0] == window[3] - window[1]  # square
            if face >= 0:
                assert item["face"] == 1
                assert (decode_offsets(item["offsets"], window) - faces[face]).abs().max() < 1
                offsets.append(item["offsets"])
            else:
                assert item["face"] == 0 and item["offsets"].eq(0).all()
                assert box_iou(window[None], faces).max() < 0.3
    spread = torch.stack(offsets).std(0)
    assert (spread > 0.05).all()  # jittered: the centre and the size to regress vary


def test_a_crowded_image_still_gets_a_negative(tmp_path):
    """One face filling the whole image: no similar-sized square misses it, a small one does."""
    import cv2
    import numpy as np

    path = tmp_path / "full.png"
    cv2.imwrite(str(path), np.zeros((40, 40, 3), np.uint8))
    crowded = ListDataset([Entry(str(path), np.asarray([[0, 0, 40, 40]], np.float32))], "crowded")
    windows = Windows(crowded, negatives=0.5, hold_out=0)
    negative = windows[1]
    assert negative["face"] == 0 and box_iou(negative["window"][None], torch.tensor([[0.0, 0, 40, 40]])) < 0.3


def test_synthetic_items_are_labelled_and_real_ones_are_not(photos):
    windows = Windows([SYNTH, photos], negatives=0.25, hold_out=0)
    # 8 synthetic faces + 8/3 -> 3 negatives; 15 real faces + 5 negatives
    assert len(windows) == 8 + 3 + 15 + 5
    batch = collate(windows)
    assert batch["labelled"].tolist() == [True] * 11 + [False] * 20
    assert batch["domain"].tolist() == [SYNTHETIC] * 11 + [REAL] * 20
    assert batch["face"].sum() == 8 + 15


def test_the_held_out_images_are_disjoint_from_training_and_fixed(photos):
    def images(windows):
        return {(s, i) for s, i, _ in windows.items}

    train, held = Windows([SYNTH, photos], hold_out=0.3), Windows([SYNTH, photos], part="held_out", hold_out=0.3)
    real_train, real_held = {i for s, i in images(train) if s == 1}, {i for s, i in images(held) if s == 1}
    assert len(real_held) == 3 and not real_train & real_held and real_train | real_held == set(range(10))
    assert {i for s, i in images(held) if s == 0} == set(range(8))  # synthetic sources are not split
    other = Windows([SYNTH, photos], part="held_out", hold_out=0.3, seed=9)
    assert images(other) == images(held) and other.items == held.items  # the split does not follow ``seed``
    assert {i for s, i in images(Windows(photos, part="held_out", hold_out=0.5))} > real_held  # nested


def test_windows_are_seeded_per_item_and_epoch(photos):
    a, b = Windows([SYNTH, photos], seed=3), Windows([SYNTH, photos], seed=3)
    for i in (0, 9, len(a) - 1):
        assert all(torch.equal(a[i][k], b[i][k]) for k in a[i])
    a.set_epoch(1)
    assert not torch.equal(a[0]["window"], b[0]["window"]) and not torch.equal(a[0]["image"], b[0]["image"])
    assert not torch.equal(Windows([SYNTH, photos], seed=4)[0]["window"], b[0]["window"])


@pytest.mark.parametrize(
    "option, match",
    [
        ({"size": 4}, r"Windows\['size'\]: expected an integer >= 8, got 4"),
        ({"negatives": 1.0}, "negatives"),
        ({"part": "test"}, "part"),
        ({"hold_out": -0.1}, "hold_out"),
        ({"context": "0.2"}, "context"),
    ],
)
def test_bad_window_options_are_config_errors(photos, option, match):
    with pytest.raises(ConfigError, match=match):
        Windows(photos, **option)


@pytest.mark.parametrize(
    "options, match",
    [({"adapt": "yes"}, "adapt"), ({"lambda_max": -1}, "lambda_max"), ({"hidden": 0}, "hidden"), ({"x": 1}, "x")],
)
def test_bad_dann_options_are_config_errors(options, match):
    with pytest.raises(ConfigError, match=match):
        tiny_dann(options)


def test_the_dataset_hook_reads_windows_at_the_crop_size():
    windows = DANN.dataset([SYNTH], {"size": 24, "context": 0.1, "jitter": 0.1, "flip": True, "cache": True}, 5)
    assert isinstance(windows, Windows) and windows.seed == 5 and windows.context == 0.1
    assert windows[0]["image"].shape == (3, 24, 24)


def _batch(photos):
    windows = Windows([SYNTH, photos], seed=2, hold_out=0)
    return collate(windows, list(range(0, len(windows), 2)))


def test_the_real_labels_never_reach_the_loss(photos):
    dann = tiny_dann().eval()  # eval: BatchNorm uses fixed statistics, so only the labels differ between passes
    dann.set_progress(0.5)
    batch = _batch(photos)
    real = ~batch["labelled"]
    assert real.any() and batch["labelled"].any()
    loss, parts = dann(batch)
    tampered = dict(batch, face=torch.where(real, 1 - batch["face"], batch["face"]))
    tampered["offsets"] = torch.where(real[:, None], batch["offsets"] + 3, batch["offsets"])
    tampered_loss, tampered_parts = dann(tampered)
    assert torch.equal(loss, tampered_loss) and torch.equal(parts["face"], tampered_parts["face"])
    assert torch.equal(parts["box"], tampered_parts["box"])
    flipped = dict(batch, face=torch.where(real, batch["face"], 1 - batch["face"]))  # a synthetic label counts
    assert not torch.isclose(dann(flipped)[0], loss)


def _backbone_gradient(dann, loss):
    params = list(dann.backbone.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).flatten() for p, g in zip(params, grads, strict=True)])


def test_the_domain_loss_reaches_the_backbone_reversed_only_when_adapting(photos):
    batch = _batch(photos)
    baseline = tiny_dann({"adapt": False}).eval()
    baseline.set_progress(0.5)
    _, parts = baseline(batch)
    assert _backbone_gradient(baseline, parts["domain"]).abs().max() == 0
    classifier = torch.autograd.grad(parts["domain"], list(baseline.domain_classifier.parameters()))
    assert any(g.abs().max() > 0 for g in classifier)  # the baseline's domain classifier still learns

    dann = tiny_dann({"lambda_max": 2.0}).eval()
    dann.set_progress(0.3)
    assert dann.lam == pytest.approx(2.0 * dann_lambda(0.3))
    _, parts = dann(batch)
    reversed_grad = _backbone_gradient(dann, parts["domain"])
    features = dann.backbone(batch["image"])
    plain = F.binary_cross_entropy_with_logits(dann.domain_classifier(features).squeeze(1), batch["domain"].float())
    plain_grad = _backbone_gradient(dann, plain)
    assert reversed_grad.abs().max() > 0
    assert torch.allclose(reversed_grad, -dann.lam * plain_grad, atol=1e-6)
    dann.set_progress(0.0)  # the schedule starts at λ = 0: no domain gradient reaches the features yet
    assert _backbone_gradient(dann, dann(batch)[1]["domain"]).abs().max() == 0


def test_a_few_steps_reduce_the_face_loss(photos):
    windows = Windows([SYNTH, photos], seed=0, hold_out=0)
    batch = collate(windows)
    dann = tiny_dann(seed=0)
    optimizer = torch.optim.Adam(dann.parameters(), lr=3e-3)
    dann.set_progress(0.5)
    losses = []
    for _ in range(25):
        loss, parts = dann(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(parts["face"].item())
    assert losses[-1] < 0.5 * losses[0]
    metrics = evaluate_dann(dann, windows, batch=8)
    assert set(metrics) == {"domain_accuracy", "face_accuracy", "box_iou"}
    assert all(0 <= v <= 1 for v in metrics.values()) and dann.training  # restores the training mode


class _Readout(torch.nn.Module):
    """Features = the first 6 pixels of the first row of channel 0: the test writes the heads' answers there."""

    features_dim = 6

    def forward(self, x):
        return x[:, 0, 0, :6]


def test_evaluation_reads_balanced_domain_accuracy_real_face_accuracy_and_box_iou():
    dann = DANN(Normalized(_Readout(), {"shape": [3, 8, 8], "mean": [0.0] * 3, "std": [1.0] * 3}), 0, {"hidden": 2})
    with torch.no_grad():  # task head: the first 5 features; domain classifier: the 6th, through relu(x) - relu(-x)
        dann.task_head.weight.copy_(torch.eye(5, 6))
        dann.task_head.bias.zero_()
        dann.domain_classifier[0].weight.copy_(torch.tensor([[0.0] * 5 + [1.0], [0.0] * 5 + [-1.0]]))
        dann.domain_classifier[0].bias.zero_()
        dann.domain_classifier[2].weight.copy_(torch.tensor([[1.0, -1.0]]))
        dann.domain_classifier[2].bias.zero_()

    def item(domain, face, offsets, predicted, domain_logit):
        image = torch.zeros(3, 8, 8)
        image[0, 0, :6] = torch.tensor([*predicted, domain_logit])
        return {
            "image": image,
            "face": torch.tensor(float(face)),
            "offsets": torch.tensor(offsets),
            "domain": torch.tensor(domain),
            "labelled": torch.tensor(domain == SYNTHETIC),
            "window": torch.zeros(4),
        }

    zero, half_right = [0.0] * 4, [0.5, 0.0, 0.0, 0.0]  # the same box moved by half its width: IoU 1/3
    items = [
        item(SYNTHETIC, 1, zero, [-5.0, 0.9, 0.9, 0.0, 0.0], -1.0),  # synthetic: ignored by face and box
        item(SYNTHETIC, 0, zero, [5.0, *zero], -1.0),
        item(REAL, 1, zero, [3.0, *zero], 1.0),  # right face, exact box
        item(REAL, 1, half_right, [2.0, *zero], 1.0),  # right face, IoU 1/3
        item(REAL, 0, zero, [-1.0, *zero], -1.0),  # right no-face, domain wrong
        item(REAL, 0, zero, [1.0, *zero], -1.0),  # wrong: called a face; domain wrong
    ]
    metrics = evaluate_dann(dann, items, batch=4)
    assert metrics["domain_accuracy"] == pytest.approx((1.0 + 0.5) / 2)  # balanced, not 4/6
    assert metrics["face_accuracy"] == pytest.approx(3 / 4)
    assert metrics["box_iou"] == pytest.approx((1 + 1 / 3) / 2)


@pytest.mark.parametrize(
    "spec, images, faces",
    [
        ("csv:{}/face_mask_kaggle/DERIVED_boxes.tsv?images=images", 677, 3144),
        ("csv:{}/oxford_pet_heads/DERIVED_head_boxes.tsv?images=images", 239, 240),
    ],
)
def test_the_shared_training_sets_split_by_image(shared_data, spec, images, faces):
    folder = shared_data / "train" / spec.split("/")[1]
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    spec = spec.format(shared_data / "train")
    train, held = Windows(spec, negatives=0.5), Windows(spec, negatives=0.5, part="held_out")
    train_images, held_images = {i for _, i, _ in train.items}, {i for _, i, _ in held.items}
    assert len(held_images) == round(0.2 * images) and len(train_images) == images - len(held_images)
    assert not train_images & held_images
    positives = sum(face >= 0 for windows in (train, held) for _, _, face in windows.items)
    assert positives == faces and len(train) + len(held) == 2 * faces
    item = held[len(held) - 1]  # a negative from a real photo
    assert item["face"] == 0 and item["domain"] == REAL and not item["labelled"]
