"""Localization MDP semantics: action table, rewards, bounds, configuration errors, oracle vs random."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from facebox.config import ConfigError
from facebox.envs.localization import FaceLocalizationEnv
from facebox.envs.policies import GreedyOracle, RandomPolicy

BOX = [40.0, 60.0, 90.0, 160.0]  # w = 50, h = 100 -> alpha steps 10 and 20
ACTION_TABLE = [
    ("right", [50, 60, 100, 160]),
    ("left", [30, 60, 80, 160]),
    ("up", [40, 40, 90, 140]),
    ("down", [40, 80, 90, 180]),
    ("bigger", [35, 50, 95, 170]),
    ("smaller", [45, 70, 85, 150]),
    ("fatter", [40, 70, 90, 150]),
    ("taller", [45, 60, 85, 160]),
]


def make_env(boxes_on_noise, faces=((100, 100, 140, 140),), **config):
    dataset = boxes_on_noise([[list(f) for f in faces]])
    return FaceLocalizationEnv(config={"dataset": dataset, **config})


def place(env, box):
    env.box = np.array(box, dtype=np.float64)
    env._update_iou()


@pytest.mark.parametrize(("name", "expected"), ACTION_TABLE)
def test_each_move_does_what_its_name_says(boxes_on_noise, name, expected):
    env = make_env(boxes_on_noise)
    env.reset(seed=0)
    place(env, BOX)
    action = env.action_type.names.index(name)
    _, _, terminated, _, info = env.step(action)
    np.testing.assert_allclose(info["box"], expected)
    assert not terminated


def test_trigger_keeps_box_and_terminates(boxes_on_noise):
    env = make_env(boxes_on_noise)
    env.reset(seed=0)
    place(env, BOX)
    _, _, terminated, _, info = env.step(8)
    assert terminated and env.action_type.names[8] == "trigger"
    np.testing.assert_allclose(info["box"], BOX)


def test_moves_stop_at_the_image_edge_without_shrinking(boxes_on_noise):
    env = make_env(boxes_on_noise)
    env.reset(seed=0)
    place(env, [170, 0, 195, 30])
    _, _, _, _, info = env.step(0)  # right: only 5 px of room
    np.testing.assert_allclose(info["box"], [175, 0, 200, 30])
    _, _, _, _, info = env.step(2)  # up at the top edge: no change
    np.testing.assert_allclose(info["box"], [175, 0, 200, 30])


def test_min_size_is_kept(boxes_on_noise):
    env = make_env(boxes_on_noise, min_size=12)
    env.reset(seed=0)
    place(env, [50, 50, 62, 62])
    _, _, _, _, info = env.step(5)  # smaller
    assert info["box"][2] - info["box"][0] == pytest.approx(12)


def test_move_reward_is_sign_of_iou_change(boxes_on_noise):
    env = make_env(boxes_on_noise)
    env.reset(seed=0)
    place(env, [90, 100, 130, 140])  # left of the face
    _, r, _, _, info = env.step(0)  # right: towards the face
    assert r == 1.0 and info["rewards"] == {"move": 1.0, "trigger": 0.0}
    _, r, _, _, info = env.step(1)  # left: away again
    assert r == -1.0
    place(env, [0, 0, 20, 20])  # far away: IoU stays 0
    _, r, _, _, _ = env.step(3)
    assert r == 0.0


@pytest.mark.parametrize(
    ("box", "tau", "expected"),
    [
        ((100, 100, 140, 140), 0.6, 3.0),
        ((104, 100, 144, 140), 0.6, 3.0),  # IoU 36/44 = 0.818
        ((120, 100, 160, 140), 0.6, -3.0),  # IoU 1/3
        ((120, 100, 160, 140), 0.3, 3.0),
    ],
)
def test_trigger_reward_at_threshold(boxes_on_noise, box, tau, expected):
    env = make_env(boxes_on_noise, tau=tau, eta=3.0)
    env.reset(seed=0)
    place(env, box)
    _, r, terminated, _, info = env.step(8)
    assert terminated and r == expected and info["rewards"]["trigger"] == expected


def test_positive_actions_mark_iou_raising_moves(boxes_on_noise):
    env = make_env(boxes_on_noise)
    env.reset(seed=0)
    place(env, [88, 100, 128, 140])  # IoU 1120 / 2080 = 0.54
    mask = env.positive_actions()
    assert mask[0] and not mask[1] and not mask[8]  # right helps, left hurts, trigger not yet
    place(env, [100, 100, 140, 140])
    assert env.positive_actions()[8]


def test_boxes_never_leave_the_image(boxes_on_noise):
    env = make_env(boxes_on_noise, start="random")
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    for _ in range(3000):
        action = int(rng.integers(8))  # moves only, so episodes run long
        _, _, _, _, info = env.step(action)
        x1, y1, x2, y2 = info["box"]
        assert 0 <= x1 < x2 <= 200 and 0 <= y1 < y2 <= 200
        assert x2 - x1 >= 8 - 1e-4 and y2 - y1 >= 8 - 1e-4


def test_target_policies_with_several_faces(boxes_on_noise):
    faces = ((10, 10, 40, 40), (100, 100, 180, 180))
    env = make_env(boxes_on_noise, faces=faces, target="largest")
    _, info = env.reset(seed=0)
    np.testing.assert_allclose(info["target"], faces[1])
    env = make_env(boxes_on_noise, faces=faces, target="any")
    env.reset(seed=0)
    place(env, [10, 10, 40, 40])
    assert env.iou == pytest.approx(1.0)
    np.testing.assert_allclose(env._info({})["target"], faces[0])
    seen = set()
    env = make_env(boxes_on_noise, faces=faces, target="random")
    for seed in range(20):
        _, info = env.reset(seed=seed)
        seen.add(tuple(info["target"].tolist()))
    assert len(seen) == 2


def test_random_start_box_is_inside_and_varies(boxes_on_noise):
    env = make_env(boxes_on_noise, start="random")
    starts = {tuple(env.reset(seed=s)[1]["box"].tolist()) for s in range(10)}
    assert len(starts) == 10


@pytest.mark.parametrize("min_size", [60.0, 150.0, 500.0])
def test_random_start_box_is_never_below_min_size(boxes_on_noise, min_size):
    """25 % of the 200 px image is 50 px: a min_size above that must still hold at the start (at 500, more than
    the image, the box is the whole image, as legalize makes every move's box)."""
    env = make_env(boxes_on_noise, start="random", min_size=min_size)
    boxes = np.array([env.reset(seed=s)[1]["box"] for s in range(200)])
    sides = boxes[:, 2:] - boxes[:, :2]
    assert sides.min() >= min(min_size, 200) - 1e-4 and sides.max() <= 200 + 1e-4
    assert min_size > 200 or len(np.unique(sides.round(3), axis=0)) == 200  # still random


def test_image_mask_observation(boxes_on_noise):
    env = make_env(boxes_on_noise, observation={"type": "image_mask", "size": 50})
    obs, _ = env.reset(seed=0)
    assert obs["image"].shape == (50, 50, 4)
    assert (obs["image"][..., 3] == 255).all()  # starts as the whole image
    place(env, [0, 0, 100, 100])
    obs, *_ = env.step(5)
    mask = obs["image"][..., 3] > 0
    assert 0.05 < mask.mean() < 0.25 and env.observation_space.contains(obs)


def test_glimpse_with_scene_shows_where_the_box_is(boxes_on_noise):
    env = make_env(boxes_on_noise, observation={"size": 32, "scene": 40})
    obs, _ = env.reset(seed=0)
    assert sorted(obs) == ["glimpse", "history", "scene"] and env.observation_space.contains(obs)
    assert obs["glimpse"].shape == (32, 32, 3) and obs["scene"].shape == (40, 40, 4)
    h, w = env.image.shape[:2]
    place(env, [0, 0, w / 2, h / 4])  # the top-left quarter-width, eighth-area box
    obs, *_ = env.step(0)  # right by 0.2 of the box width
    rows, cols = np.nonzero(obs["scene"][..., 3])
    assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == (0, 10, 4, 24)
    assert np.array_equal(
        obs["scene"][..., :3],
        make_env(boxes_on_noise, observation={"type": "image_mask", "size": 40}).reset(seed=0)[0]["image"][..., :3],
    )


def test_history_is_one_hot_of_last_actions(boxes_on_noise):
    env = make_env(boxes_on_noise, observation={"history": 3})
    env.reset(seed=0)
    for a in (0, 3, 5, 1):
        obs, *_ = env.step(a)
    history = obs["history"].reshape(3, 9)
    assert history.argmax(axis=1).tolist() == [3, 5, 1] and history.sum() == 3


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"tua": 0.5}, "unknown key config\\['tua'\\]; valid keys: .*'tau'"),
        ({"observation": {"type": "glimpse", "sise": 32}}, "config\\['observation'\\]\\['sise'\\].*'size'"),
        ({"observation": {"type": "pixels"}}, "config\\['observation'\\]\\['type'\\]\\) 'pixels'.*glimpse"),
        ({"observation": "glimpse"}, "config\\['observation'\\]: expected a mapping.*got str 'glimpse'"),
        ({"action": {"type": "discrete", "alpha": 0.1, "beta": 1}}, "config\\['action'\\]\\['beta'\\]"),
        ({"target": "smallest"}, "config\\['target'\\]: expected one of .*'largest'.*, got 'smallest'"),
        ({"start": "centre"}, "config\\['start'\\]: expected one of .*'image'.*, got 'centre'"),
        ({"min_size": 0.5}, "config\\['min_size'\\]: expected a number >= 1.*got 0.5"),
        ({"min_size": "8"}, "config\\['min_size'\\]: expected a number >= 1.*got '8'"),
        ({"dataset": "imagenet:/x"}, "config\\['dataset'\\]: .*unknown format 'imagenet'; expected one of"),
    ],
)
def test_bad_config_is_a_config_error_naming_the_key(boxes_on_noise, config, match):
    with pytest.raises(ConfigError, match=match):
        make_env(boxes_on_noise, **config)


NAN = float("nan")


@pytest.mark.parametrize(
    ("config", "path", "expected"),
    [
        ({"tau": "0.5"}, "config['tau']", "a number in (0, 1], got '0.5'"),
        ({"tau": NAN}, "config['tau']", "a number in (0, 1], got nan"),
        ({"tau": 0}, "config['tau']", "a number in (0, 1], got 0"),
        ({"tau": True}, "config['tau']", "a number in (0, 1], got True"),
        ({"eta": "3"}, "config['eta']", "a number >= 0, got '3'"),
        ({"eta": -3.0}, "config['eta']", "a number >= 0, got -3.0"),
        ({"eta": float("inf")}, "config['eta']", "a number >= 0, got inf"),
        ({"min_size": NAN}, "config['min_size']", "a number >= 1, got nan"),
        ({"dataset": 5}, "config['dataset']", "a str or FaceDataset or Mapping, got 5"),
        ({"action": {"alpha": "0.2"}}, "config['action']['alpha']", "a number in (0, 1], got '0.2'"),
        ({"action": {"alpha": 0}}, "config['action']['alpha']", "a number in (0, 1], got 0"),
        ({"action": {"alpha": -0.2}}, "config['action']['alpha']", "a number in (0, 1], got -0.2"),
        ({"action": {"min_step": -1}}, "config['action']['min_step']", "a number >= 0, got -1"),
        (
            {"action": {"type": "continuous", "trigger_threshold": 1.0}},
            "config['action']['trigger_threshold']",
            "a number in [-1, 1), got 1.0",
        ),
        ({"observation": {"size": 0}}, "config['observation']['size']", "an integer >= 1, got 0"),
        ({"observation": {"size": -8}}, "config['observation']['size']", "an integer >= 1, got -8"),
        ({"observation": {"size": 32.0}}, "config['observation']['size']", "an integer >= 1, got 32.0"),
        ({"observation": {"history": 0}}, "config['observation']['history']", "an integer >= 1, got 0"),
        ({"observation": {"history": -1}}, "config['observation']['history']", "an integer >= 1, got -1"),
        ({"observation": {"history": True}}, "config['observation']['history']", "an integer >= 1, got True"),
        ({"observation": {"context": -0.1}}, "config['observation']['context']", "a number >= 0, got -0.1"),
        ({"observation": {"scene": -1}}, "config['observation']['scene']", "an integer >= 0, got -1"),
        (
            {"observation": {"type": "image_mask", "size": "64"}},
            "config['observation']['size']",
            "an integer >= 1, got '64'",
        ),
    ],
)
def test_bad_config_value_is_a_config_error_at_construction(config, path, expected):
    """Each of these was accepted and crashed at reset/step with a TypeError, OverflowError or IndexError, or
    (NaN, negative eta, zero alpha) silently broke the task."""
    with pytest.raises(ConfigError) as err:
        gym.make("facebox/FaceLocalization-v0", config=config)
    assert str(err.value) == f"{path}: expected {expected}"


def test_bad_render_mode_and_non_mapping_config_are_config_errors():
    with pytest.raises(ConfigError, match="render_mode: expected None or one of \\['rgb_array'\\], got 'human'"):
        FaceLocalizationEnv(render_mode="human")
    with pytest.raises(ConfigError, match="config: expected a mapping, got str 'tau=0.5'"):
        FaceLocalizationEnv(config="tau=0.5")


@pytest.mark.parametrize("action", [9, -1, 2.5, "up", None])
def test_out_of_range_action_is_a_clear_error(boxes_on_noise, action):
    env = make_env(boxes_on_noise)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="not in Discrete\\(9\\)"):
        env.step(action)


@pytest.mark.parametrize("action", [True, False, np.bool_(True), np.array(True), 2.0, np.float32(1), np.array([1])])
def test_bools_and_floats_are_not_actions(boxes_on_noise, action):
    """``int(True) == True``: the old check took ``step(True)`` as action 1 (left), ``step(2.0)`` as 2."""
    env = make_env(boxes_on_noise)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"is not in Discrete\(9\): expected an integer in 0..8 \(right, left, "):
        env.step(action)


@pytest.mark.parametrize("action", [1, np.int64(1), np.array(1), np.uint8(1)])
def test_integer_actions_of_any_integer_type_are_accepted(boxes_on_noise, action):
    env = make_env(boxes_on_noise)
    env.reset(seed=0)
    place(env, BOX)
    np.testing.assert_allclose(env.step(action)[4]["box"], ACTION_TABLE[1][1])  # left


@pytest.mark.parametrize("action_type", ["discrete", "continuous"])
def test_step_after_the_trigger_needs_a_reset(boxes_on_noise, action_type):
    env = make_env(boxes_on_noise, action={"type": action_type})
    env.reset(seed=0)
    trigger, move = (8, 0) if action_type == "discrete" else map(env.action_type.move_action, (8, 0))
    assert env.step(trigger)[2]
    with pytest.raises(gym.error.ResetNeeded, match="terminated: call reset"):
        env.step(move)
    env.reset(seed=1)
    assert not env.step(move)[2]  # a reset lets it step again


def test_empty_dataset_is_a_config_error(boxes_on_noise):
    with pytest.raises(ConfigError, match="config\\['dataset'\\] = .*: expected a dataset with images, got none"):
        FaceLocalizationEnv(config={"dataset": boxes_on_noise([])})


def test_continuous_actions_reproduce_the_discrete_moves(boxes_on_noise):
    for name, expected in ACTION_TABLE:
        env = make_env(boxes_on_noise, action={"type": "continuous"})
        env.reset(seed=0)
        place(env, BOX)
        _, _, _, _, info = env.step(env.action_type.move_action(env.action_type.names.index(name)))
        np.testing.assert_allclose(info["box"], expected, err_msg=name)
    _, _, terminated, _, _ = env.step(np.array([0, 0, 0, 0, 0.5], np.float32))
    assert terminated


def run_policy(env, policy, episodes, max_steps=40):
    success, steps = [], []
    for episode in range(episodes):
        env.reset(seed=episode)
        terminated, n = False, 0
        while not terminated and n < max_steps:
            _, _, terminated, _, info = env.step(policy(env))
            n += 1
        success.append(terminated and info["iou"] >= 0.6)
        steps.append(n)
    return float(np.mean(success)), float(np.median(steps))


def test_oracle_localizes_synthetic_faces_and_random_does_not():
    env = FaceLocalizationEnv()
    oracle_success, oracle_steps = run_policy(env, GreedyOracle(), 200)
    random_success, _ = run_policy(env, RandomPolicy(np.random.default_rng(0)), 200)
    assert oracle_success >= 0.95 and oracle_steps <= 15
    assert random_success < 0.10


def test_mirrored_actions_do_the_same_in_the_mirror_image():
    from facebox.envs.actions import ActionType, LocalizationActions
    from facebox.envs.tracking import TrackingActions

    rng = np.random.default_rng(0)
    for actions in (LocalizationActions({}), TrackingActions({})):
        perm = actions.mirrored()
        assert (
            sorted(perm) == list(range(len(actions.table))) and perm[actions.terminal_action] == actions.terminal_action
        )
        bounds = (200.0, 150.0, 8.0)
        for _ in range(20):
            x1, y1 = rng.uniform(0, 100, 2)
            box = np.array([x1, y1, x1 + rng.uniform(10, 90), y1 + rng.uniform(10, 50)])
            mirror = np.array([200 - box[2], box[1], 200 - box[0], box[3]])
            moved = actions.candidate_boxes(box, bounds)[:, [2, 1, 0, 3]] * [-1, 1, -1, 1] + [200, 0, 200, 0]
            mirrored_moves = [actions.moves.index(perm[i]) for i in actions.moves]
            np.testing.assert_allclose(actions.candidate_boxes(mirror, bounds)[mirrored_moves], moved)
    assert [LocalizationActions({}).names[i] for i in LocalizationActions({}).mirrored()[:2]] == ["left", "right"]

    class OnlyRight(ActionType):
        table = (("right", ((1, 0, 1, 0), (0, 0, 0, 0))), ("stop", None))

    with pytest.raises(ValueError, match="mirror image of move 'right'"):
        OnlyRight({}).mirrored()


@pytest.mark.parametrize(
    ("box", "size"),
    [([40, 30, 88, 78], 16), ([60.3, 50, 200.1, 190], 32), ([20, 20, 236, 236], 16), ([100.2, 10, 120.7, 40], 32)],
)
def test_glimpse_samples_each_pixel_at_its_centre_on_every_pyramid_level(box, size):
    """On a ramp (pixel i holds i, its centre is at i + 0.5) a glimpse pixel must read the ramp at its own centre,
    whichever pyramid level the crop comes from (these boxes use levels 1, 2, 3 and 0); a half-pixel slip in the
    warp was off by up to 6 here.
    """
    from facebox.envs.observations import Pyramid

    image = np.repeat(np.tile(np.arange(256, dtype=np.uint8), (256, 1))[..., None], 3, axis=2)
    box = np.array(box, dtype=np.float64)
    row = Pyramid(image).crop(box, size, context=0.0)[size // 2, :, 0].astype(float)
    centres = box[0] + (np.arange(size) + 0.5) * (box[2] - box[0]) / size
    np.testing.assert_allclose(row, centres - 0.5, atol=0.6)  # uint8 rounding
