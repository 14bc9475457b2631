"""Tracking MDP semantics: ADNet's action table, frame advance, clips vs whole sequences, rewards, absent targets,
the template observation, configuration errors, and the greedy oracle as the ceiling.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from facebox.config import ConfigError
from facebox.envs.boxes import iou
from facebox.envs.data.video import SequenceList, VideoDataset, VideoSequence
from facebox.envs.observations import Pyramid
from facebox.envs.policies import GreedyOracle
from facebox.envs.tracking import FaceTrackingEnv


class NoiseVideo(VideoSequence):
    """Noise frames (a different image per frame) with given boxes: exact, hand-checkable geometry."""

    def __init__(self, boxes, size: tuple[int, int] = (200, 200), name: str = "noise") -> None:
        self.name, self.size = name, size
        self.boxes = np.asarray(boxes, dtype=np.float32)

    def _read(self, index: int) -> np.ndarray:
        return np.random.default_rng(index).integers(0, 256, (*self.size, 3), dtype=np.uint8)


def still(box, frames: int) -> list:
    return [list(box)] * frames


def random_walk(rng: np.random.Generator, frames: int, size: int = 200) -> np.ndarray:
    """A face box drifting by up to 8 % of its size per frame and rescaling by up to 3 %, kept in the frame."""
    boxes = [np.array([80.0, 70.0, 120.0, 120.0])]
    for _ in range(frames - 1):
        x1, y1, x2, y2 = boxes[-1]
        w, h = (x2 - x1) * rng.uniform(0.97, 1.03), (y2 - y1) * rng.uniform(0.97, 1.03)
        cx = np.clip((x1 + x2) / 2 + rng.uniform(-0.08, 0.08) * w, w, size - w)
        cy = np.clip((y1 + y2) / 2 + rng.uniform(-0.08, 0.08) * h, h, size - h)
        boxes.append(np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]))
    return np.array(boxes)


def make_env(*sequences, render_mode: str | None = None, **config) -> FaceTrackingEnv:
    sequences = sequences or (NoiseVideo(still((100, 100, 140, 140), 12)),)
    return FaceTrackingEnv(config={"dataset": SequenceList(list(sequences), "test"), **config}, render_mode=render_mode)


def place(env, box):
    env.box = np.array(box, dtype=np.float64)
    env._update_iou()


BOX = [40.0, 60.0, 90.0, 160.0]  # w = 50, h = 100 -> steps 1.5 and 3 px
ACTION_TABLE = [
    ("left", [38.5, 60, 88.5, 160]),
    ("left2", [37, 60, 87, 160]),
    ("right", [41.5, 60, 91.5, 160]),
    ("right2", [43, 60, 93, 160]),
    ("up", [40, 57, 90, 157]),
    ("up2", [40, 54, 90, 154]),
    ("down", [40, 63, 90, 163]),
    ("down2", [40, 66, 90, 166]),
    ("smaller", [40.75, 61.5, 89.25, 158.5]),
    ("bigger", [39.25, 58.5, 90.75, 161.5]),
]


@pytest.mark.parametrize(("name", "expected"), ACTION_TABLE)
def test_each_move_is_adnet_step_of_the_box(name, expected):
    env = make_env()
    env.reset(options={"index": 0, "start": 0})
    place(env, BOX)
    _, _, terminated, _, info = env.step(env.action_type.names.index(name))
    np.testing.assert_allclose(info["box"], expected)
    assert not terminated and info["frame"] == 1  # a move does not end the frame


@pytest.mark.parametrize(("name", "expected"), [("left", [99, 100, 119, 110]), ("bigger", [99.5, 99.5, 120.5, 110.5])])
def test_steps_are_at_least_one_pixel(name, expected):
    env = make_env()
    env.reset(options={"index": 0, "start": 0})
    place(env, [100, 100, 120, 110])  # 0.03 * 20 = 0.6 px and 0.03 * 10 = 0.3 px: both floored to 1 px
    _, _, _, _, info = env.step(env.action_type.names.index(name))
    np.testing.assert_allclose(info["box"], expected)


def test_action_set_is_adnets_eleven_with_stop_at_8():
    env = make_env()
    assert env.action_space.n == 11 and env.action_type.names[8] == "stop"
    assert env.observation_space["history"].shape == (10 * 11,)


def test_stop_accepts_the_box_and_moves_it_to_the_next_frame():
    env = make_env()
    _, info = env.reset(options={"index": 0, "start": 2})
    assert info["frame"] == 3
    place(env, [95, 100, 135, 140])
    _, _, terminated, _, info = env.step(8)
    assert info["frame"] == 4 and not terminated
    np.testing.assert_allclose(env.track, [[100, 100, 140, 140], [95, 100, 135, 140]])  # frames 2 and 3
    np.testing.assert_allclose(info["box"], [95, 100, 135, 140])  # the next frame starts where this one ended


def test_frame_advances_exactly_after_max_actions():
    env = make_env(max_actions=3)
    env.reset(options={"index": 0, "start": 0})
    frames = [env.step(0)[4]["frame"] for _ in range(7)]
    assert frames == [1, 1, 2, 2, 2, 3, 3]


def test_train_clip_ends_after_clip_length_frames():
    env = make_env(clip_length=4)
    _, info = env.reset(options={"index": 0, "start": 2})
    done = []
    for _ in range(4):
        _, _, terminated, _, info = env.step(8)
        done.append(terminated)
    assert done == [False, False, False, True] and info["frame"] == 6 and env.track.shape == (5, 4)
    with pytest.raises(gym.error.ResetNeeded, match="call reset"):
        env.step(8)


def test_train_starts_vary_and_leave_room_for_a_whole_clip():
    env = make_env(clip_length=4)
    starts = {env.reset(seed=s)[1]["frame"] - 1 for s in range(60)}
    assert starts == set(range(12 - 4))


def test_short_sequence_gives_a_shorter_clip():
    env = make_env(NoiseVideo(still((100, 100, 140, 140), 3)), clip_length=10)
    env.reset(options={"index": 0, "start": 0})
    assert env.step(8)[2] is False and env.step(8)[2] is True


def test_eval_tracks_the_whole_sequence_from_the_first_annotated_frame():
    boxes = np.array(still((100, 100, 140, 140), 8), dtype=np.float32)
    boxes[0] = np.nan
    env = make_env(NoiseVideo(boxes), mode="eval", clip_length=2)
    _, info = env.reset(seed=0)
    assert info["frame"] == 2
    steps = 0
    terminated = False
    while not terminated:
        _, _, terminated, _, info = env.step(8)
        steps += 1
    assert steps == 6 and info["frame"] == 7
    np.testing.assert_allclose(env.track, boxes[1:])  # frames 1..7, never moved: the start box on each


def test_jitter_moves_the_train_start_box_but_not_the_eval_one():
    env = make_env(jitter=0.1)
    starts = [env.reset(seed=s, options={"index": 0, "start": 0})[1]["box"] for s in range(5)]
    assert len({tuple(b.tolist()) for b in starts}) == 5
    assert all(0.5 < iou(b, [100, 100, 140, 140])[0, 0] < 1 for b in starts)
    env = make_env(jitter=0.1, mode="eval")
    np.testing.assert_allclose(env.reset(seed=0)[1]["box"], [100, 100, 140, 140])


@pytest.mark.parametrize(
    ("box", "threshold", "expected"),
    [
        ((100, 100, 140, 140), 0.7, 1.0),
        ((106, 100, 146, 140), 0.7, 1.0),  # IoU 1360 / 1840 = 0.739
        ((108, 100, 148, 140), 0.7, -1.0),  # IoU 1280 / 1920 = 0.667
        ((110, 100, 150, 140), 0.5, 1.0),  # IoU 1200 / 2000 = 0.6
    ],
)
def test_adnet_reward_at_frame_end(box, threshold, expected):
    env = make_env(iou_threshold=threshold)
    env.reset(options={"index": 0, "start": 0})
    place(env, box)
    _, r, _, _, info = env.step(8)
    assert r == expected and info["rewards"] == {"move": 0.0, "frame": expected}


def test_adnet_moves_earn_nothing_and_dense_moves_earn_the_iou_change_sign():
    env = make_env()
    env.reset(options={"index": 0, "start": 0})
    place(env, [90, 100, 130, 140])
    assert env.step(2)[1] == 0.0  # right, towards the face
    env = make_env(reward="dense", max_actions=3, frame_reward=2.0)
    env.reset(options={"index": 0, "start": 0})
    place(env, [90, 100, 130, 140])  # IoU 30/50
    _, r, _, _, info = env.step(2)
    assert r == 1.0 and info["rewards"] == {"move": 1.0, "frame": 0.0}
    _, r, _, _, info = env.step(0)
    assert r == -1.0
    _, r, _, _, info = env.step(3)  # third action: the move counts, and the frame ends at IoU 1296/1904 = 0.68
    assert info["rewards"] == {"move": 1.0, "frame": -2.0} and r == -1.0 and info["frame"] == 2


def test_absent_target_frame_has_no_reward_nan_iou_and_the_oracle_keeps_the_box():
    boxes = np.array(still((100, 100, 140, 140), 4), dtype=np.float32)
    boxes[1] = np.nan
    env = make_env(NoiseVideo(boxes), reward="dense", render_mode="rgb_array")
    _, info = env.reset(options={"index": 0, "start": 0})
    assert np.isnan(info["iou"]) and np.isnan(info["center_error"])
    assert info["positive_actions"].tolist() == [False] * 8 + [True, False, False]
    assert env.render().shape[2] == 3
    _, r, _, _, info = env.step(0)
    assert r == 0.0
    assert GreedyOracle()(env) == 8
    _, r, _, _, info = env.step(8)
    assert r == 0.0 and info["frame"] == 2 and info["iou"] == pytest.approx(1552 / 1648)  # moved left 1.2 px


def test_stop_is_positive_only_when_no_move_helps_and_iou_passes():
    env = make_env()
    env.reset(options={"index": 0, "start": 0})
    place(env, [100, 100, 140, 140])
    assert env.positive_actions()[8]
    place(env, [104, 100, 144, 140])  # IoU 0.82 but moving left improves it
    mask = env.positive_actions()
    assert mask[0] and not mask[8]
    place(env, [40, 40, 60, 60])  # lost: no move helps, but the IoU does not pass
    assert not env.positive_actions().any()


def test_info_reports_center_error_and_the_caption_the_frame():
    env = make_env(render_mode="rgb_array")
    env.reset(options={"index": 0, "start": 0})
    place(env, [103, 96, 143, 136])
    _, _, _, _, info = env.step(8)
    assert info["center_error"] == pytest.approx(5.0) and info["frame"] == 2
    assert env._caption().startswith("frame 2  IoU 0.")
    frame = env.render()
    assert ((frame[..., 0] == 255) & (frame[..., 1] == 40)).any() and (
        (frame[..., 1] == 220) & (frame[..., 0] == 0)
    ).any()


def test_template_is_the_first_frame_target_and_stays_while_the_glimpse_moves():
    boxes = random_walk(np.random.default_rng(1), 6)
    video = NoiseVideo(boxes)
    env = make_env(video, observation={"size": 32, "context": 0.25})
    obs, _ = env.reset(options={"index": 0, "start": 1})
    expected = Pyramid(video.frame(1)).crop(video.boxes[1].astype(np.float64), 32, 0.25)
    np.testing.assert_array_equal(obs["template"], expected)
    assert not np.array_equal(obs["glimpse"], expected)  # same box, next frame
    for _ in range(3):
        nxt, *_ = env.step(8)
        np.testing.assert_array_equal(nxt["template"], expected)
        assert env.observation_space.contains(nxt)


def test_history_is_kept_across_frames():
    env = make_env(observation={"history": 3})
    env.reset(options={"index": 0, "start": 0})
    for a in (2, 8, 10):
        obs, _, _, _, info = env.step(a)
    assert info["frame"] == 2 and obs["history"].reshape(3, 11).argmax(axis=1).tolist() == [2, 8, 10]


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"mode": "test"}, "config\\['mode'\\]: expected one of \\('train', 'eval'\\), got 'test'"),
        ({"reward": "sparse"}, "config\\['reward'\\]: expected one of \\('adnet', 'dense'\\), got 'sparse'"),
        ({"max_actions": 0}, "config\\['max_actions'\\]: expected an integer >= 1, got 0"),
        ({"clip_length": 2.5}, "config\\['clip_length'\\]: expected an integer >= 1, got 2.5"),
        ({"jitter": 1.5}, "config\\['jitter'\\]: expected a number in \\[0, 1\\), got 1.5"),
        ({"jitter": "0.1"}, "config\\['jitter'\\]: expected a number in \\[0, 1\\), got '0.1'"),
        ({"min_size": 0}, "config\\['min_size'\\]: expected a number >= 1"),
        ({"clip": 3}, "unknown key config\\['clip'\\]; valid keys: .*'clip_length'"),
        ({"action": {"type": "adnt"}}, "config\\['action'\\]\\['type'\\]\\) 'adnt'.*'adnet'"),
        ({"action": "adnet"}, "config\\['action'\\]: expected a mapping such as \\{'type': 'adnet'\\}, got str"),
        ({"action": {"alpha": 0.05, "beta": 1}}, "config\\['action'\\]\\['beta'\\]"),
        ({"observation": {"type": "template", "sise": 3}}, "config\\['observation'\\]\\['sise'\\]"),
        ({"dataset": "imagenet:/x"}, "config\\['dataset'\\]: .*unknown format 'imagenet'"),
    ],
)
def test_bad_config_is_a_config_error_naming_the_key(config, match):
    with pytest.raises(ConfigError, match=match):
        make_env(**config)


@pytest.mark.parametrize(
    ("config", "path", "expected"),
    [
        ({"iou_threshold": "0.7"}, "config['iou_threshold']", "a number in [0, 1), got '0.7'"),
        ({"iou_threshold": 1.0}, "config['iou_threshold']", "a number in [0, 1), got 1.0"),
        ({"iou_threshold": float("nan")}, "config['iou_threshold']", "a number in [0, 1), got nan"),
        ({"frame_reward": "1"}, "config['frame_reward']", "a number >= 0, got '1'"),
        ({"frame_reward": -1.0}, "config['frame_reward']", "a number >= 0, got -1.0"),
        ({"frame_reward": False}, "config['frame_reward']", "a number >= 0, got False"),
        ({"clip_length": True}, "config['clip_length']", "an integer >= 1, got True"),
        ({"max_actions": "20"}, "config['max_actions']", "an integer >= 1, got '20'"),
        ({"jitter": float("nan")}, "config['jitter']", "a number in [0, 1), got nan"),
        ({"dataset": None}, "config['dataset']", "a str or VideoDataset or Mapping, got None"),
        ({"action": {"alpha": "0.03"}}, "config['action']['alpha']", "a number in (0, 1], got '0.03'"),
        ({"action": {"min_step": float("nan")}}, "config['action']['min_step']", "a number >= 0, got nan"),
        ({"observation": {"size": 0}}, "config['observation']['size']", "an integer >= 1, got 0"),
        ({"observation": {"history": 0}}, "config['observation']['history']", "an integer >= 1, got 0"),
        ({"observation": {"context": "0.25"}}, "config['observation']['context']", "a number >= 0, got '0.25'"),
    ],
)
def test_bad_config_value_is_a_config_error_at_construction(config, path, expected):
    with pytest.raises(ConfigError) as err:
        gym.make("facebox/FaceTracking-v0", config=config)
    assert str(err.value) == f"{path}: expected {expected}"


@pytest.mark.parametrize("action", [True, np.bool_(False), 8.0])
def test_bools_and_floats_are_not_actions(action):
    env = make_env()
    env.reset(options={"index": 0, "start": 0})
    with pytest.raises(ValueError, match=r"is not in Discrete\(11\): expected an integer in 0..10 \(left, "):
        env.step(action)


def test_track_is_an_attribute_and_not_in_info():
    """``info["track"]`` grew by a box every frame, so vector envs could not stack the infos of their sub-envs."""
    env = make_env(clip_length=3)
    _, info = env.reset(options={"index": 0, "start": 0})
    shapes = {key: np.shape(value) for key, value in info.items()}
    assert "track" not in info and env.track.shape == (1, 4)
    for frames in (2, 3, 4):
        _, _, _, _, info = env.step(8)
        assert {key: np.shape(value) for key, value in info.items()} == shapes and env.track.shape == (frames, 4)
    env.track[:] = 0  # a copy: the env's record is untouched
    assert env.track.any()


def test_empty_dataset_is_a_config_error():
    class NoVideos(VideoDataset):
        def __len__(self) -> int:
            return 0

        def __getitem__(self, index: int) -> VideoSequence:
            raise IndexError(index)

    with pytest.raises(ConfigError, match="config\\['dataset'\\] = .*: expected a dataset with sequences, got none"):
        FaceTrackingEnv(config={"dataset": NoVideos()})


def test_sequence_without_a_usable_start_is_a_clear_error():
    boxes = np.full((5, 4), np.nan, dtype=np.float32)
    boxes[4] = [10, 10, 50, 50]  # annotated only on the last frame: nothing follows it
    env = make_env(NoiseVideo(boxes, name="empty"))
    with pytest.raises(ValueError, match="sequence 'empty'.*no annotated frame followed by another"):
        env.reset(seed=0)
    env = make_env()
    with pytest.raises(ValueError, match="start=11"):
        env.reset(options={"index": 0, "start": 11})


def track_with_oracle(env: FaceTrackingEnv, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Run the oracle over sequence ``index`` in eval mode; per-frame IoU of its track and steps taken."""
    oracle = GreedyOracle()
    env.reset(options={"index": index})
    terminated, steps = False, 0
    while not terminated:
        terminated = env.step(oracle(env))[2]
        steps += 1
    track = env.track
    gt = env.gt[-len(track) :]
    annotated = np.isfinite(gt).all(axis=1)
    pairs = zip(track[annotated], gt[annotated], strict=True)
    return np.array([iou(b, g)[0, 0] for b, g in pairs]), steps


def test_oracle_keeps_a_drifting_face_above_0_7():
    rng = np.random.default_rng(0)
    videos = [NoiseVideo(random_walk(rng, 30), name=f"walk{i}") for i in range(3)]
    env = make_env(*videos, mode="eval")
    for index in range(3):
        ious, steps = track_with_oracle(env, index)
        assert len(ious) == 30 and (ious > 0.7).mean() >= 0.9
        assert steps < 29 * 20  # it stops on most frames instead of using up every action


def test_oracle_tracks_synthetic_videos():
    env = FaceTrackingEnv(config={"dataset": "synthetic?frames=40", "mode": "eval"})
    for index in range(3):
        ious, _ = track_with_oracle(env, index)
        assert len(ious) > 30 and (ious > 0.7).mean() >= 0.9
