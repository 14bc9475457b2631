"""Face verification: pairs files, the LFW protocol's folds and thresholds, embeddings with flip TTA, the verifier,
and ``facebox verify`` end to end on a tiny set of noise images and an untrained backbone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from facebox.benchmarks.cli import main as facebox_main
from facebox.envs.data.formats.identities import pair_identities
from facebox.perception import verification
from facebox.perception.backbones import build_backbone
from facebox.perception.checkpoints import load_backbone, save_checkpoint
from facebox.perception.data import face_crop
from facebox.perception.inversion import main as invert_main  # noqa: E402
from facebox.perception.verification import (
    UnknownIdentity,
    Verifier,
    embed_faces,
    embed_images,
    evaluate_pairs,
    fold_indices,
    read_pairs,
)
from facebox.perception.verify import main as verify_main
from facebox.perception.verify import make_pairs

SHAPE = (3, 32, 32)


def make_checkpoint(path: Path, channels: int = 3, centres=None, identities=()) -> Path:
    shape = (channels, *SHAPE[1:])
    kwargs = {"channels": [4, 8], "features": 16}
    torch.manual_seed(0)
    backbone = build_backbone("resnet", shape, kwargs)
    objective = {"name": "arcface", "kwargs": {}, "state_dict": {}, "identities": [list(i) for i in identities]}
    if centres is not None:
        objective["state_dict"]["centres"] = torch.as_tensor(centres, dtype=torch.float32)
    return save_checkpoint(
        path,
        {
            "backbone": {"name": "resnet", "kwargs": kwargs, "state_dict": backbone.state_dict()},
            "input": {"shape": list(shape), "mean": [0.5] * channels, "std": [0.25] * channels, "context": 0.2},
            "objective": objective,
            "config": {},
            "step": 0,
        },
    )


def noise_image(path: Path, seed: int, size=(40, 48), gray: bool = False) -> np.ndarray:
    """Write a noise image (RGB, or gray) and return it as read_image decodes it (RGB)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size if gray else (*size, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), pixels if gray else pixels[:, :, ::-1])
    return np.repeat(pixels[:, :, None], 3, axis=2) if gray else pixels


def identity_folders(root: Path, people: int = 4, per_person: int = 4) -> Path:
    for person in range(people):
        for k in range(per_person):
            noise_image(root / f"s{person + 1}" / f"{k + 1}.pgm", 100 * person + k, gray=True)
    return root


@pytest.fixture
def checkpoint(tmp_path):
    return make_checkpoint(tmp_path / "model.pt")


# ---------------------------------------------------------------- pairs files


def test_read_pairs_reads_same_and_different_lines_with_counts_and_comments(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("# a comment\n2\t2\n7\ta.jpg\tb.jpg\n\n7 a.jpg c.jpg\n7\ta.jpg\t9\td.jpg\n8 e.jpg  9 f.jpg\n")
    pairs = read_pairs(path)
    assert [(p.image_a, p.image_b, p.same, p.id_a, p.id_b) for p in pairs] == [
        ("a.jpg", "b.jpg", True, "7", "7"),
        ("a.jpg", "c.jpg", True, "7", "7"),
        ("a.jpg", "d.jpg", False, "7", "9"),
        ("e.jpg", "f.jpg", False, "8", "9"),
    ]


@pytest.mark.parametrize("bad", ["7\ta.jpg", "7\ta.jpg\t\tb.jpg", "1 2 3 4 5"])
def test_read_pairs_error_names_file_and_line(tmp_path, bad):
    path = tmp_path / "pairs.txt"
    path.write_text(f"# comment\n7\ta.jpg\tb.jpg\n{bad}\n")
    with pytest.raises(ValueError, match=r"pairs.txt:3: expected 'id img1 img2'"):
        read_pairs(path)


def test_read_pairs_missing_or_empty_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_pairs(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("# only a comment\n")
    with pytest.raises(ValueError, match="empty.txt: no pairs"):
        read_pairs(tmp_path / "empty.txt")


# ---------------------------------------------------------------- the protocol


def test_folds_are_stratified_and_partition_the_pairs():
    same = np.r_[np.ones(150, bool), np.zeros(150, bool)]  # sorted as in an LFW-style file
    folds = fold_indices(same)
    assert sorted(np.concatenate(folds).tolist()) == list(range(300))
    assert [int(same[f].sum()) for f in folds] == [15] * 10
    assert all(np.array_equal(a, b) for a, b in zip(folds, fold_indices(same), strict=True))  # seeded
    with pytest.raises(ValueError, match="at least 10 pairs of each kind"):
        fold_indices(np.r_[np.ones(9, bool), np.zeros(50, bool)])


def test_separable_pairs_score_perfectly():
    rng = np.random.default_rng(0)
    same = np.r_[np.ones(100, bool), np.zeros(100, bool)]
    scores = np.where(same, rng.uniform(0.6, 0.9, 200), rng.uniform(-0.2, 0.4, 200))
    result = evaluate_pairs(scores, same)
    assert (result.accuracy, result.accuracy_std, result.auc, result.tar_at_far) == (1.0, 0.0, 1.0, 1.0)
    assert scores[~same].max() < result.threshold < scores[same].min()
    assert result.pairs == 200 and result.same == 100


def test_random_scores_give_chance():
    rng = np.random.default_rng(1)
    same = rng.random(4000) < 0.5
    result = evaluate_pairs(rng.normal(size=4000), same)
    assert abs(result.auc - 0.5) < 0.03
    assert abs(result.accuracy - 0.5) < 0.04


def test_each_fold_is_scored_with_a_threshold_from_the_other_folds():
    """One same pair scores 0.1, below no different pair: the nine folds without it put the threshold at 0.5 (between
    0 and 1), which rejects it; the folds with it in training choose 0.05 and score their own pairs perfectly. A
    threshold chosen with the test fold's pairs would score 1.0 everywhere."""
    same = np.r_[np.ones(10, bool), np.zeros(10, bool)]
    scores = np.where(same, 1.0, 0.0)
    scores[3] = 0.1
    result = evaluate_pairs(scores, same)
    assert sorted(result.fold_accuracies) == [0.5] + [1.0] * 9
    assert result.accuracy == pytest.approx(0.95)
    assert sorted(result.fold_thresholds) == pytest.approx([0.05] * 9 + [0.5])
    assert result.threshold == pytest.approx(0.095)


def test_threshold_search_never_sees_the_test_fold(monkeypatch):
    seen = []
    real = verification.best_threshold

    def spy(similarities, same):
        seen.append(set(np.asarray(similarities).tolist()))
        return real(similarities, same)

    monkeypatch.setattr(verification, "best_threshold", spy)
    scores = np.arange(60) / 60  # distinct values, so each call's inputs tell which pairs it got
    same = np.arange(60) % 3 == 0
    evaluate_pairs(scores, same)
    assert len(seen) == 10
    held_out = [set(scores.tolist()) - s for s in seen]
    assert all(len(h) == 6 for h in held_out)
    assert set().union(*held_out) == set(scores.tolist())  # each pair is held out by exactly one call


def test_tar_at_far_hand_computed():
    """200 different pairs at 0.000..0.199: FAR <= 1e-2 allows 2 false accepts, i.e. accepting scores >= 0.198, which
    takes 4 of the 10 same pairs (0.3, 0.25, 0.2, 0.1985); accepting 0.197 would make 3 false accepts."""
    same_scores = np.array([0.3, 0.25, 0.2, 0.1985] + [0.05] * 6)
    scores = np.r_[same_scores, np.arange(200) / 1000]
    same = np.r_[np.ones(10, bool), np.zeros(200, bool)]
    assert evaluate_pairs(scores, same).tar_at_far == pytest.approx(0.4)


# ---------------------------------------------------------------- embeddings


def test_flip_tta_is_the_mean_of_the_crop_and_its_mirror(tmp_path, checkpoint):
    backbone = load_backbone(checkpoint)
    image = noise_image(tmp_path / "a.png", 0)
    crop = face_crop(image, (0, 0, 48, 40), 32, 0.2)[0][None]
    with torch.no_grad():
        plain, mirrored = backbone(crop), backbone(crop.flip(-1))
    flipped = embed_images(backbone, [tmp_path / "a.png"], flip=True)
    unflipped = embed_images(backbone, [tmp_path / "a.png"], flip=False)
    torch.testing.assert_close(flipped, F.normalize((plain + mirrored) / 2, dim=1))
    torch.testing.assert_close(unflipped, F.normalize(plain, dim=1))
    assert not torch.allclose(flipped, unflipped)
    assert flipped.norm(dim=1).item() == pytest.approx(1.0)


def test_box_table_crops_faces_and_warns_about_images_embedded_whole(tmp_path, checkpoint):
    backbone = load_backbone(checkpoint)
    for k, name in enumerate("abc"):
        noise_image(tmp_path / f"{name}.jpg", k)
    table = tmp_path / "boxes.tsv"
    table.write_text(
        "image\tn_faces\trank\tx0\ty0\tx1\ty1\tconfidence\n"
        "a.jpg\t1\t0\t5.0\t6.0\t25.0\t30.0\t0.990\n"
        "b.jpg\t0\t-\t\t\t\t\t\n"
    )
    with pytest.warns(UserWarning, match=r"2 images without a face box embedded whole \(b.jpg, c.jpg\)"):
        embedded = embed_images(backbone, [tmp_path / f"{n}.jpg" for n in "abc"], boxes=table, batch=2)
    decoded = [cv2.imread(str(tmp_path / f"{n}.jpg"))[:, :, ::-1] for n in "abc"]  # the JPEG's pixels, not the noise
    expected = embed_faces(backbone, decoded, [[5.0, 6.0, 25.0, 30.0], None, None])
    torch.testing.assert_close(embedded, expected)
    assert not torch.allclose(embedded[0], embed_faces(backbone, decoded[:1])[0])


def test_gray_checkpoint_converts_rgb_images(tmp_path):
    backbone = load_backbone(make_checkpoint(tmp_path / "gray.pt", channels=1))
    rgb = noise_image(tmp_path / "rgb.png", 3)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    embedded = embed_images(backbone, [tmp_path / "rgb.png", tmp_path / "gray.png"])
    assert embedded.shape == (2, 16)
    torch.testing.assert_close(embedded[0], embedded[1])


# ---------------------------------------------------------------- the verifier


def test_verifier_uses_checkpoint_centres_and_enrolled_templates(tmp_path):
    probe = noise_image(tmp_path / "probe.png", 0)
    backbone = load_backbone(make_checkpoint(tmp_path / "plain.pt"))
    e = embed_faces(backbone, [probe])[0]
    orthogonal = torch.randn(16)
    orthogonal -= (orthogonal @ e) * e
    centres = torch.stack([3 * e, orthogonal])  # centres need not be unit length
    path = make_checkpoint(tmp_path / "centres.pt", centres=centres, identities=[(0, 7207), (0, 7218)])
    verifier = Verifier.from_checkpoint(path, threshold=0.5)

    accepted, cosine = verifier.verify(probe, 7207)
    assert accepted and cosine == pytest.approx(1.0, abs=1e-5)
    accepted, cosine = verifier.verify(tmp_path / "probe.png", (0, 7218))
    assert not accepted and cosine == pytest.approx(0.0, abs=1e-5)

    verifier.enroll(7218, [probe, probe[:, ::-1]])  # an enrolled template takes precedence over the centre
    accepted, cosine = verifier.verify(probe, 7218)
    assert accepted and cosine > 0.99
    with pytest.raises(UnknownIdentity, match="identity 9999 is neither enrolled"):
        verifier.verify(probe, 9999)
    with pytest.raises(KeyError):
        verifier.verify(probe, (1, 7207))


def test_verifier_asks_for_the_source_of_an_id_several_sources_share(tmp_path, checkpoint):
    verifier = Verifier(load_backbone(checkpoint), 0.3, torch.eye(2, 16), [[0, 5], [1, 5]])
    with pytest.raises(UnknownIdentity, match=r"several sources: claim one of \[\(0, 5\), \(1, 5\)\]"):
        verifier.template(5)
    torch.testing.assert_close(verifier.template([1, 5]), torch.eye(2, 16)[1])


def test_calibrate_sets_the_mean_fold_threshold(checkpoint):
    verifier = Verifier(load_backbone(checkpoint), threshold=0.9)
    same = np.r_[np.ones(20, bool), np.zeros(20, bool)]
    scores = np.where(same, 0.7, 0.1) + np.linspace(0, 0.05, 40)
    result = verifier.calibrate(scores, same)
    assert verifier.threshold == result.threshold
    assert 0.15 < verifier.threshold < 0.7


# ---------------------------------------------------------------- the command


def test_make_pairs_writes_a_file_read_pairs_reads_back(tmp_path):
    root = identity_folders(tmp_path / "faces", people=5)
    path = make_pairs(f"folders:{root}", tmp_path / "pairs.txt", identities=(1, 3), per_kind=12, seed=3)
    pairs = read_pairs(path)
    assert sum(p.same for p in pairs) == 12 and sum(not p.same for p in pairs) == 12
    assert pair_identities(path) <= {1, 2, 3}
    for p in pairs:
        assert (root / p.image_a).is_file() and (root / p.image_b).is_file()
        assert (p.image_a.split("/")[0] == p.image_b.split("/")[0]) == p.same and p.image_a != p.image_b
        assert p.image_a.split("/")[0] == f"s{int(p.id_a) + 1}"
    assert path.read_text() == make_pairs(f"folders:{root}", tmp_path / "again.txt", (1, 3), 12, 3).read_text()
    with pytest.raises(ValueError, match="give 18 same pairs, 20 asked"):
        make_pairs(f"folders:{root}", tmp_path / "x.txt", identities=(1, 3), per_kind=20)


def test_verify_command_end_to_end(tmp_path, checkpoint, capsys):
    root = identity_folders(tmp_path / "faces")
    pairs = tmp_path / "pairs.txt"
    assert facebox_main(["verify", "--make-pairs", f"folders:{root}", "--out", str(pairs), "--per-kind", "10"]) == 0
    assert len(read_pairs(pairs)) == 20
    roc, report = tmp_path / "out" / "roc.png", tmp_path / "out" / "verify.json"
    argv = ["--checkpoint", str(checkpoint), "--pairs", str(pairs), "--images", str(root)]
    assert facebox_main(["verify", *argv, "--roc", str(roc), "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "ROC AUC" in out and "± " in out and "TAR@FAR=0.01" in out
    assert roc.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    measured = json.loads(report.read_text())
    assert measured["pairs"] == 20 and measured["same"] == 10 and len(measured["fold_accuracies"]) == 10
    assert f"ROC AUC          {measured['auc']:.4f}" in out


@pytest.mark.parametrize("command", [verify_main, invert_main], ids=["verify", "invert"])
def test_verify_and_invert_commands_name_bad_files(command, tmp_path, checkpoint, capsys):
    root = identity_folders(tmp_path / "faces", people=2, per_person=2)
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("0\ts1/1.pgm\ts1/2.pgm\n0\ts1/1.pgm\t1\ts2/9.pgm\n")
    cases = [
        (["--checkpoint", str(tmp_path / "none.pt"), "--pairs", str(pairs)], "none.pt: no such perception checkpoint"),
        (["--checkpoint", str(checkpoint), "--pairs", str(tmp_path / "no.txt")], "no.txt: no such pairs file"),
        (["--checkpoint", str(checkpoint), "--pairs", str(pairs)], "1 images not found in .*faces \\(s2/9.pgm\\)"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exit_:
            command([*argv, "--images", str(root)])
        assert exit_.value.code == 2
        assert re.search(message, capsys.readouterr().err)


# ---------------------------------------------------------------- the shared CelebA validation pairs


def test_shared_celeba_validation_pairs(shared_data):
    folder = shared_data / "train" / "celeba_identities"
    pairs = read_pairs(folder / "DERIVED_pairs_val.txt")
    assert sum(p.same for p in pairs) == 150 and sum(not p.same for p in pairs) == 150
    assert all((p.id_a == p.id_b) == p.same for p in pairs)
    assert {int(i) for p in pairs for i in (p.id_a, p.id_b)} == pair_identities(folder / "DERIVED_pairs_val.txt")
    assert all((folder / "images" / name).is_file() for p in pairs for name in (p.image_a, p.image_b))
