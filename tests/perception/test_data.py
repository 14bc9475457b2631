"""Face crops for pretraining: the box travels through crop, resize and flip; labels, domains, seeded jitter."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from facebox.config import ConfigError  # noqa: E402
from facebox.envs.data import ListDataset  # noqa: E402
from facebox.envs.data.record import Entry  # noqa: E402
from facebox.perception.data import REAL, SYNTHETIC, FaceCrops  # noqa: E402


@pytest.fixture
def faces(tmp_path):
    """Two noise images: one face of identity 40, and two faces of identities 7 and None."""
    import cv2
    import numpy as np

    entries = []
    for i, (boxes, ids) in enumerate(
        [([[20, 40, 60, 80]], (40,)), ([[10, 10, 50, 90], [100, 100, 140, 140]], (7, None))]
    ):
        path = tmp_path / f"{i}.png"
        cv2.imwrite(str(path), np.random.default_rng(i).integers(0, 256, (200, 200, 3), dtype=np.uint8))
        entries.append(Entry(str(path), np.asarray(boxes, np.float32), ("human",) * len(boxes), ids))
    return ListDataset(entries, "test")


def test_a_crop_without_context_or_jitter_is_the_face_box_resized(faces):
    crops = FaceCrops(faces, size=32, context=0, jitter=0, flip=False)
    assert len(crops) == 3 and crops.identities == [(0, 7), (0, 40)] and crops.domain == REAL
    first, tall = crops[0], crops[1]
    assert first["image"].shape == (3, 32, 32) and first["image"].dtype == torch.float32
    assert 0 <= first["image"].min() and first["image"].max() <= 1
    assert first["box"].tolist() == [0, 0, 32, 32] and first["label"] == 1  # identity 40: the second in sorted order
    assert tall["box"].tolist() == [8, 0, 24, 32]  # a 40x80 face in its 80 px square crop
    assert crops[2]["label"] == -1  # no identity
    record = faces[0]
    expected = torch.from_numpy(record.image[40:80, 20:60]).permute(2, 0, 1).float() / 255
    resized = torch.nn.functional.interpolate(expected[None], size=(32, 32), mode="bilinear", antialias=True)[0]
    assert torch.allclose(first["image"], resized, atol=2 / 255)


def test_context_grows_the_crop_around_the_box_and_flip_mirrors_it(faces):
    crops = FaceCrops(faces, size=40, context=0.5, jitter=0, flip=True, seed=1)
    boxes, images = [], []
    for epoch in range(8):
        crops.set_epoch(epoch)
        boxes.append(crops[1]["box"].tolist())
        images.append(crops[0]["image"])
    # The 40x80 face with context 0.5 on each side: a 160 px crop, scaled by 1/4, the face 10x20 in its middle;
    # centred, so the flip keeps its box while it mirrors the pixels.
    assert all(box == [15, 10, 25, 30] for box in boxes)
    assert any(torch.equal(a, b.flip(-1)) for a in images for b in images)


def test_jitter_is_seeded_per_item_and_epoch(faces):
    a, b = FaceCrops(faces, seed=3), FaceCrops(faces, seed=3)
    assert torch.equal(a[0]["image"], b[0]["image"]) and torch.equal(a[0]["box"], b[0]["box"])
    a.set_epoch(1)
    assert not torch.equal(a[0]["box"], b[0]["box"])
    assert not torch.equal(FaceCrops(faces, seed=4)[0]["box"], b[0]["box"])


def test_synthetic_faces_are_the_synthetic_domain_and_batch_in_a_dataloader():
    crops = FaceCrops("synthetic?seed=3&length=6", size=32)
    assert len(crops) == 6 and crops.domain == SYNTHETIC and crops[0]["label"] == -1
    batch = next(iter(torch.utils.data.DataLoader(crops, batch_size=3)))
    assert batch["image"].shape == (3, 3, 32, 32) and batch["domain"].tolist() == [SYNTHETIC] * 3


@pytest.mark.parametrize(
    "option, match",
    [
        ({"size": 4}, r"FaceCrops\['size'\]: expected an integer >= 8, got 4"),
        ({"jitter": 0.5}, "jitter"),
        ({"context": True}, "context"),
    ],
)
def test_bad_crop_options_are_config_errors(faces, option, match):
    with pytest.raises(ConfigError, match=match):
        FaceCrops(faces, **option)


def test_the_shared_identity_sets_give_contiguous_labels(shared_data):
    folder = shared_data / "train" / "att_orl_faces"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    crops = FaceCrops(f"folders:{folder}", size=32)
    assert len(crops) == 300 and crops.identities == [(0, i) for i in range(30)]
    assert sorted({int(crops[i]["label"]) for i in range(0, 300, 10)}) == list(range(30))
