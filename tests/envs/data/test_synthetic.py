"""SyntheticFaces: reproducibility, box validity, scale/kind/identity statistics, decoys, argument errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from facebox.config import ConfigError
from facebox.envs.data import open_dataset
from facebox.envs.data.synthetic import SyntheticFaces, identity_params, render_face

# Run both here and in a fresh interpreter (another hash seed, fresh caches): the digests must match.
_DIGEST = """
import hashlib
from facebox.envs.data.synthetic import SyntheticFaces
ds = SyntheticFaces(seed=7, max_faces=3)
h = hashlib.sha256()
for i in range(20):
    f = ds[i]
    h.update(f.image.tobytes() + f.boxes.tobytes() + repr((f.kinds, f.identities)).encode())
digest = h.hexdigest()
"""


def _core(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Pixels of the middle third of a box: mostly skin or fur whatever the pose."""
    x1, y1, x2, y2 = box.astype(int)
    w, h = x2 - x1, y2 - y1
    return image[y1 + h // 3 : y2 - h // 3, x1 + w // 3 : x2 - w // 3].reshape(-1, 3).astype(np.float32) + 1


def test_same_seed_same_images_different_seed_different():
    a, b = SyntheticFaces(seed=3), SyntheticFaces(seed=3)
    for i in (0, 1, 99_999):
        fa, fb = a[i], b[i]
        np.testing.assert_array_equal(fa.image, fb.image)
        np.testing.assert_array_equal(fa.boxes, fb.boxes)
        assert (fa.kinds, fa.identities) == (fb.kinds, fb.identities)
    c = SyntheticFaces(seed=4)
    assert all(not np.array_equal(a[i].image, c[i].image) for i in range(5))
    assert not np.array_equal(a[0].image, a[1].image)


def test_images_identical_in_a_fresh_process():
    out = subprocess.run([sys.executable, "-c", _DIGEST + "print(digest)"], capture_output=True, text=True, check=True)
    scope: dict = {}
    exec(_DIGEST, scope)
    assert out.stdout.strip() == scope["digest"]


def test_images_and_boxes_are_valid():
    ds = SyntheticFaces(seed=1, size=96, max_faces=3)
    for i in range(100):
        f = ds[i]
        assert f.image.shape == (96, 96, 3) and f.image.dtype == np.uint8
        assert 1 <= len(f.boxes) <= 3
        assert (f.boxes >= 0).all() and (f.boxes <= 96).all()
        assert ((f.boxes[:, 2:] - f.boxes[:, :2]) >= 4).all(), f"{f.source}: face less than 4 px visible"
        assert set(f.attributes) == {"angle", "occlusion", "blur"}
        assert (np.abs(f.attributes["angle"]) <= 25).all() and (f.attributes["occlusion"] <= 0.3).all()


def test_scale_spans_small_to_large_faces():
    ds = SyntheticFaces(seed=0, size=128)
    scales = [(f.boxes[:, 2:] - f.boxes[:, :2]).max() / 128 for f in (ds[i] for i in range(200))]
    assert min(scales) < 0.15 and max(scales) > 0.5
    assert max(scales) < 0.8


@pytest.mark.parametrize("fraction", [0.0, 0.4, 1.0])
def test_kinds_follow_animal_fraction(fraction):
    ds = SyntheticFaces(seed=2, animal_fraction=fraction, max_faces=2)
    kinds = [k for i in range(200) for k in ds[i].kinds]
    assert set(kinds) <= {"human", "animal"}
    assert abs(kinds.count("animal") / len(kinds) - fraction) < 0.1


def test_identity_appearance_is_global_and_consistent():
    assert identity_params(17) is identity_params(17)  # cached, and a pure function of the number
    p = identity_params(17)
    assert p.identity == 17 and p.kind in ("human", "animal")
    seen = set()  # (identity, kind) in two dataset seeds: one kind per identity, the one identity_params says
    for ds in (SyntheticFaces(seed=0, identities=8), SyntheticFaces(seed=9, identities=8)):
        for i in range(60):
            f = ds[i]
            seen.update(zip(f.identities, f.kinds, strict=True))
    assert all(0 <= k < 8 and identity_params(k).kind == kind for k, kind in seen)

    # Lighting changes brightness, not chromaticity much: the skin/fur chromaticity of one identity across
    # images is closer than across identities.
    ds = SyntheticFaces(seed=2, identities=8, distractors=0)
    chroma, ids = [], []
    for i in range(160):
        f = ds[i]
        core = _core(f.image, f.boxes[0])
        chroma.append(np.median(core / core.sum(1, keepdims=True), axis=0))
        ids.append(f.identities[0])
    chroma, ids = np.array(chroma), np.array(ids)
    dist = np.abs(chroma[:, None] - chroma[None]).sum(-1)
    same = (ids[:, None] == ids[None]) & ~np.eye(len(ids), dtype=bool)
    assert dist[same].mean() < 0.8 * dist[ids[:, None] != ids[None]].mean()


def test_colour_alone_does_not_find_the_face():
    """Decoys share the face's chromaticity: a region outside the face, 30% of its area, matches it."""

    def decoy_rate(distractors: int) -> float:
        ds = SyntheticFaces(seed=5, distractors=distractors)
        hits = 0
        for i in range(100):
            f = ds[i]
            x1, y1, x2, y2 = f.boxes[0].astype(int)
            w, h = x2 - x1, y2 - y1
            core = _core(f.image, f.boxes[0])
            colour = np.median(core[:, :2] / core.sum(1, keepdims=True), axis=0)
            img = f.image.astype(np.float32) + 1
            near = np.abs(img[:, :, :2] / img.sum(2, keepdims=True) - colour).max(2) <= 0.015
            near[max(y1 - h // 4, 0) : y2 + h // 4, max(x1 - w // 4, 0) : x2 + w // 4] = False
            hits += near.sum() >= 0.3 * w * h
        return hits / 100

    with_decoys, without = decoy_rate(6), decoy_rate(0)
    assert with_decoys >= 0.3 and with_decoys >= 2 * without, (with_decoys, without)


def test_several_faces_per_image():
    ds = SyntheticFaces(seed=0, max_faces=4)
    counts = [len(ds[i].boxes) for i in range(60)]
    assert max(counts) <= 4 and sum(c >= 2 for c in counts) >= 15


def test_face_boxes_leave_out_hair_and_ears():
    """``box="face"`` boxes the face inside the head's box: shorter (no hair on top, no ear tips), no wider."""
    heads, faces = SyntheticFaces(seed=4, max_faces=2), SyntheticFaces(seed=4, max_faces=2, box="face")
    heights = []
    for i in range(60):
        a, b = heads[i], faces[i]
        assert (a.kinds, a.identities) == (b.kinds, b.identities)
        for head, face in zip(a.boxes, b.boxes, strict=True):
            assert (face[:2] >= head[:2] - 1).all() and (face[2:] <= head[2:] + 1).all(), (i, head, face)
            heights.append((face[3] - face[1]) / (head[3] - head[1]))
    assert 0.65 < np.mean(heights) < 0.9 and max(heights) <= 1.0, np.mean(heights)
    with pytest.raises(ConfigError, match="box must be one of"):
        render_face(
            np.zeros((40, 40, 3), np.uint8),
            identity_params(0),
            (20.0, 20.0),
            20.0,
            0.0,
            np.random.default_rng(0),
            "hair",
        )


def test_render_face_on_a_canvas():
    canvas = np.full((80, 80, 3), 90, np.uint8)
    rng = np.random.default_rng(0)
    box = render_face(canvas, identity_params(3), (40.0, 40.0), 40.0, 20.0, rng)
    assert box is not None and box.dtype == np.float32
    x1, y1, x2, y2 = box
    assert 38 <= max(x2 - x1, y2 - y1) <= 46 and min(x2 - x1, y2 - y1) >= 24  # size is the longer upright side
    assert (canvas[int(y1) : int(y2), int(x1) : int(x2)] != 90).any(axis=2).mean() > 0.5
    assert (canvas[:, : int(x1) - 2] == 90).all() and (canvas[: int(y1) - 2] == 90).all()  # faint anti-aliasing
    half_out = np.zeros((50, 50, 3), np.uint8)
    box = render_face(half_out, identity_params(4), (0.0, 25.0), 30.0, 0.0, rng)
    assert box is not None and box[0] == 0 and 5 <= box[2] <= 20
    assert render_face(half_out, identity_params(4), (200.0, 25.0), 30.0, 0.0, rng) is None


def test_indexing_sampling_and_spec_strings():
    ds = SyntheticFaces(seed=0, length=10)
    assert len(ds) == 10
    np.testing.assert_array_equal(ds[-1].image, ds[9].image)
    with pytest.raises(IndexError):
        ds[10]
    with pytest.raises(IndexError):
        ds[-11]
    a, b = ds.sample(np.random.default_rng(1)), ds.sample(np.random.default_rng(1))
    np.testing.assert_array_equal(a.image, b.image)
    spec = open_dataset("synthetic?seed=3&size=96&max_faces=2&animal_fraction=0.5")
    assert isinstance(spec, SyntheticFaces) and spec[0].image.shape == (96, 96, 3)
    np.testing.assert_array_equal(spec[5].image, SyntheticFaces(3, 96, max_faces=2, animal_fraction=0.5)[5].image)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"size": 31}, "size"),
        ({"max_faces": 0}, "max_faces"),
        ({"animal_fraction": -0.1}, "animal_fraction"),
        ({"animal_fraction": 1.5}, "animal_fraction"),
        ({"seed": -1}, "seed"),
        ({"length": 0}, "length"),
        ({"identities": 0}, "identities"),
        ({"distractors": -1}, "distractors"),
        ({"box": "hair"}, "box"),
    ],
)
def test_bad_parameters_name_themselves(kwargs, name):
    with pytest.raises(ConfigError, match=name):
        SyntheticFaces(**kwargs)
