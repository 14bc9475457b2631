"""Tracking clips from stills: a virtual camera over an annotated photo whose box follows the face exactly, seeded,
picklable, mixed with synthetic clips in the tracking env."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import facebox  # noqa: F401
from facebox.config import ConfigError
from facebox.envs.data.mixture import MixedVideos
from facebox.envs.data.record import FaceDataset, FaceImage
from facebox.envs.data.sources import open_video_dataset
from facebox.envs.data.video.stills import StillVideos


class Squares(FaceDataset):
    """Grey photos with white squares as the faces: where a face went is readable from the pixels."""

    def __init__(self, boxes: list[list[list[float]]]) -> None:
        self.boxes = [np.asarray(b, np.float32) for b in boxes]

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index: int) -> FaceImage:
        boxes = self.boxes[self._check_index(index)]
        image = np.full((240, 320, 3), 60, np.uint8)
        for x1, y1, x2, y2 in boxes.astype(int):
            image[y1:y2, x1:x2] = 255
        return FaceImage(image, boxes, source=f"squares/{index}")


def white_box(frame: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(frame[..., 0] > 160)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)


@pytest.mark.parametrize("rotation", [0.0, 5.0])
def test_the_box_follows_the_face_through_every_frame(rotation):
    videos = StillVideos(Squares([[[100, 80, 140, 120]]]), frames=30, rotation=rotation, blur=0, brightness=0)
    clip = videos[0]
    assert len(clip) == 30 and clip.boxes.dtype == np.float32
    for t in range(0, 30, 3):
        seen, box = white_box(clip.frame(t)), clip.boxes[t].astype(np.float64)
        centre = lambda b: (b[:2] + b[2:]) / 2  # noqa: E731
        assert np.abs(centre(seen) - centre(box)).max() < 1.5, t
        if rotation == 0:
            assert np.abs(seen - box).max() < 1.5, t
    path = clip.views
    assert np.ptp(path[:, 0]) > 1 and np.ptp(path[:, 2]) > 0  # the camera moved and zoomed
    assert np.abs(path[:, 3]).max() <= rotation


def test_clips_are_seeded_and_the_target_never_leaves_the_frame():
    videos = StillVideos(Squares([[[100, 80, 140, 120]], [[10, 10, 40, 50], [200, 100, 260, 170]]]), repeats=20)
    assert len(videos) == 40
    again = StillVideos(videos.source, repeats=20)
    np.testing.assert_array_equal(videos[7].boxes, again[7].boxes)
    np.testing.assert_array_equal(videos[7].frame(12), again[7].frame(12))
    assert not np.array_equal(videos[7].boxes, videos[9].boxes)
    other_seed = StillVideos(videos.source, repeats=20, seed=1)
    assert not np.array_equal(videos[7].boxes, other_seed[7].boxes)
    boxes = np.concatenate([videos[i].boxes for i in range(len(videos))])
    size = videos.size
    assert (
        (boxes[:, 0] > 0).all()
        and (boxes[:, 1] > 0).all()
        and (boxes[:, 2] < size).all()
        and (boxes[:, 3] < size).all()
    )
    sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])  # face_min/face_max: the longer side
    assert 0.5 * 0.15 * size <= sides.min() + 1e-4 and sides.max() <= 0.6 * size


def test_a_clip_pickles_without_its_pixels_and_renders_the_same_frames():
    clip = StillVideos(Squares([[[100, 80, 140, 120]]]))[0]
    frame = clip.frame(20).copy()
    copy = pickle.loads(pickle.dumps(clip))
    assert copy.__dict__["_still"] is None and "_frames" not in copy.__dict__
    np.testing.assert_array_equal(copy.frame(20), frame)


def test_the_target_is_a_face_wide_enough_when_there_is_one():
    videos = StillVideos(Squares([[[10, 10, 20, 20], [100, 80, 160, 140], [200, 20, 210, 30]]]), repeats=10)
    for clip in (videos[i] for i in range(10)):
        width_in_frame = clip.boxes[0, 2] - clip.boxes[0, 0]
        assert width_in_frame == pytest.approx(60 * videos.size / clip.views[0, 2], rel=1e-4)  # the 60 px face
        assert clip.name.startswith("squares/0#")
    with pytest.raises(ValueError, match="squares/0: no annotated face"):
        StillVideos(Squares([[]]))[0]


def test_stills_specs_split_camera_options_from_the_still_spec():
    videos = open_video_dataset("stills:synthetic?length=5&frames=20&rotation=3")
    assert isinstance(videos, StillVideos) and len(videos) == 5 and len(videos[0]) == 20
    assert videos.motion["rotation"] == 3.0 and len(videos.source) == 5
    for spec, match in [
        ("stills:", "expected stills:STILL_SPEC"),
        ("stills:synthetic?frames=x", "option 'frames' expects a whole number"),
        ("stills:synthetic?lenght=3", r"'stills:synthetic\?lenght=3'.*unknown option 'lenght'"),
        ("stills:synthetic?face_min=0.5&face_max=0.2", "face_min <= face_max"),
    ]:
        with pytest.raises(ConfigError, match=match):
            open_video_dataset(spec)


def test_the_tracking_env_trains_on_a_mixture_of_synthetic_and_still_clips():
    dataset = {"synthetic?size=64&frames=8&length=3": 1, "stills:synthetic?length=3&frames=8&size=64": 3}
    assert isinstance(open_video_dataset(dataset), MixedVideos)
    env = gym.make("facebox/FaceTracking-v0", config={"dataset": dataset, "clip_length": 3, "max_actions": 3})
    check_env(env.unwrapped, skip_render_check=True)
    names = set()
    for seed in range(12):
        env.reset(seed=seed)
        names.add(type(env.unwrapped.sequence).__name__)
        for _ in range(4):
            *_, terminated, _, info = env.step(env.action_space.sample())
            assert np.isfinite(info["iou"])
            if terminated:
                break
    assert names == {"SyntheticClip", "StillClip"}
    with pytest.raises(ConfigError, match=r"config\['dataset'\].*weight > 0"):
        gym.make("facebox/FaceTracking-v0", config={"dataset": {"synthetic": 0}})
