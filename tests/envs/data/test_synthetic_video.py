"""SyntheticVideos: clips repeat exactly for a seed, valid smooth boxes, look-alike distractors, argument errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from facebox.config import ConfigError
from facebox.envs.data.synthetic_video import SyntheticVideos


def test_synthetic_clips_repeat_exactly_for_a_seed():
    a, b = SyntheticVideos(seed=3, frames=12)[5], SyntheticVideos(seed=3, frames=12)[5]
    forward = [a.frame(t).copy() for t in range(12)]
    backward = [b.frame(t).copy() for t in reversed(range(12))][::-1]  # any access order renders the same
    for x, y in zip(forward, backward, strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    other = SyntheticVideos(seed=4, frames=12)[5]
    assert not np.array_equal(other.frame(0), forward[0])
    assert not np.array_equal(SyntheticVideos(seed=3, frames=12)[6].frame(0), forward[0])


def test_synthetic_frames_and_boxes_are_valid():
    size = 96
    data = SyntheticVideos(seed=1, size=size, frames=20)
    for i in range(10):
        clip = data[i]
        assert len(clip) == 20 and clip.kind in ("human", "animal")
        frame = clip.frame(7)
        assert frame.shape == (size, size, 3) and frame.dtype == np.uint8
        boxes = clip.boxes
        assert boxes.shape == (20, 4) and boxes.dtype == np.float32
        seen = np.isfinite(boxes).all(axis=1)
        assert seen.all() or np.isnan(boxes[~seen]).all()
        b = boxes[seen]
        assert (b[:, 0] >= 0).all() and (b[:, 1] >= 0).all() and (b[:, 2] <= size).all() and (b[:, 3] <= size).all()
        assert (b[:, 2] - b[:, 0] >= 2).all() and (b[:, 3] - b[:, 1] >= 2).all()


def test_synthetic_target_moves_smoothly_and_changes_scale():
    size = 128
    data = SyntheticVideos(seed=2, size=size, frames=60)
    for i in range(20):
        boxes = data[i].boxes.astype(np.float64)
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        steps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
        assert np.nanmax(steps) < 0.05 * size  # bounded speed: no jumps between frames
        assert np.nanmax(steps) > 0.002 * size  # but it does move
        inside = np.isfinite(boxes).all(axis=1) & (boxes[:, :2] > 0).all(axis=1) & (boxes[:, 2:] < size).all(axis=1)
        heights = (boxes[:, 3] - boxes[:, 1])[inside]
        assert heights.max() / heights.min() > 1.15  # approaching or receding


def test_synthetic_clips_hold_look_alike_distractors():
    data = SyntheticVideos(seed=0, frames=10, distractors=2)
    for i in range(8):
        clip = data[i]
        assert 1 <= len(clip.distractor_identities) <= 2
        assert clip.identity not in clip.distractor_identities
        assert clip.others.shape == (10, len(clip.distractor_identities), 4)
        assert np.isfinite(clip.others).all(axis=2).any(axis=0).all()  # every distractor is on screen at times
    assert SyntheticVideos(seed=0, frames=10, distractors=0)[0].others.shape == (10, 0, 4)


def test_synthetic_kinds_follow_animal_fraction():
    assert {SyntheticVideos(frames=2, animal_fraction=1.0)[i].kind for i in range(5)} == {"animal"}
    assert {SyntheticVideos(frames=2, animal_fraction=0.0)[i].kind for i in range(5)} == {"human"}


def test_synthetic_clip_pickles():
    clip = SyntheticVideos(seed=5, frames=6)[2]
    frame = clip.frame(4).copy()
    copy = pickle.loads(pickle.dumps(clip))
    np.testing.assert_array_equal(copy.frame(4), frame)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"size": 16}, "size must be >= 32"), ({"frames": 0}, "frames"), ({"animal_fraction": 2.0}, "animal_fraction")],
)
def test_synthetic_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        SyntheticVideos(**kwargs)
    with pytest.raises(IndexError):
        SyntheticVideos(length=3)[3]
