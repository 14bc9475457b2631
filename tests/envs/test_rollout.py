"""The shared rollout: what counts as a success, the summary row, the sweep over a finite set."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import facebox  # noqa: F401  (registers the environments)
from facebox.envs.policies import POLICIES
from facebox.envs.rollout import Episode, run_detector, run_episodes, summarize


def test_episode_success_needs_a_trigger():
    assert Episode(iou=0.8, triggered=True, steps=5).success(0.7)
    assert not Episode(iou=0.8, triggered=False, steps=40).success(0.5)
    assert not Episode(iou=0.55, triggered=True, steps=5).success(0.7)


def test_summary_counts_only_triggers_above_threshold():
    episodes = [
        Episode(iou=0.8, triggered=True, steps=5),
        Episode(iou=0.6, triggered=True, steps=9),
        Episode(iou=0.9, triggered=False, steps=40),  # on the face but never triggered: not a success
        Episode(iou=0.2, triggered=True, steps=7),
    ]
    s = summarize("p", episodes, speed=1.0)
    assert (s["success@0.5"], s["success@0.7"], s["median_steps"], s["trigger_rate"]) == (0.5, 0.25, 8, 0.75)
    assert s["mean_iou"] == pytest.approx(0.625)


def test_a_finite_set_is_swept_in_order_and_the_detector_sees_what_the_policies_see(boxes_on_noise):
    faces = boxes_on_noise([[[20, 20, 80, 80]], [[100, 40, 160, 100]], [[30, 110, 90, 170]]])
    env = gym.make("facebox/FaceLocalization-v0", config={"dataset": faces})
    seen = []

    def detect(record):
        seen.append(record.source)
        return None if len(seen) == 2 else np.asarray(record.boxes[0], float)

    episodes, speed = run_detector(env, detect, episodes=5)
    assert seen == ["noise[0]", "noise[1]", "noise[2]"]  # each image once, in order, though 5 were asked for
    assert [(e.iou, e.triggered) for e in episodes] == [(1.0, True), (0.0, False), (1.0, True)]
    oracle, _, _ = run_episodes(env, POLICIES["oracle"](0), episodes=5)
    assert len(oracle) == 3 and all(e.success(0.5) for e in oracle) and speed > 0


def test_recorded_episodes_render_every_step_and_seeded_rollouts_repeat():
    env = gym.make("facebox/FaceLocalization-v0", render_mode="rgb_array")
    first, frames, _ = run_episodes(env, POLICIES["random"](7), episodes=3, seed=4, record=1)
    again, _, _ = run_episodes(env, POLICIES["random"](7), episodes=3, seed=4)
    assert len(frames) == first[0].steps + 1 and frames[0].ndim == 3
    assert first == again
    with pytest.raises(ValueError, match="no episodes"):
        summarize("p", [], 1.0)
