"""Single-face tracking by box moves (ADNet, Yun et al., CVPR 2017)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from facebox.config import instance_of, number, one_of
from facebox.envs.actions import ACTION_TYPES, HALF, ActionType
from facebox.envs.boxes import center_error, legalize
from facebox.envs.core import BoxEnv
from facebox.envs.data.sources import open_video_dataset
from facebox.envs.data.video import VideoDataset, VideoSequence
from facebox.envs.observations import OBSERVATION_TYPES, GlimpseObservation

__all__ = ["FaceTrackingEnv", "TrackingActions", "TemplateObservation", "MODES", "REWARDS"]

MODES = ("train", "eval")
REWARDS = ("adnet", "dense")


class TrackingActions(ActionType):
    """ADNet's 11 actions. A move shifts the box by one or two steps, or scales it about its centre by one
    step in total; a step is ``alpha`` (0.03) of the current width/height but at least ``min_step`` (1 px), so
    that small faces still move.
    """

    defaults = {"alpha": 0.03, "min_step": 1.0}
    table = (
        ("left", ((-1, 0, -1, 0), (0, 0, 0, 0))),
        ("left2", ((-2, 0, -2, 0), (0, 0, 0, 0))),
        ("right", ((1, 0, 1, 0), (0, 0, 0, 0))),
        ("right2", ((2, 0, 2, 0), (0, 0, 0, 0))),
        ("up", ((0, 0, 0, 0), (0, -1, 0, -1))),
        ("up2", ((0, 0, 0, 0), (0, -2, 0, -2))),
        ("down", ((0, 0, 0, 0), (0, 1, 0, 1))),
        ("down2", ((0, 0, 0, 0), (0, 2, 0, 2))),
        ("stop", None),
        ("smaller", ((HALF, 0, -HALF, 0), (0, HALF, 0, -HALF))),
        ("bigger", ((-HALF, 0, HALF, 0), (0, -HALF, 0, HALF))),
    )


class TemplateObservation(GlimpseObservation):
    """The glimpse and history of :class:`GlimpseObservation` plus ``template``: the target on the episode's
    first frame, cropped the same way, so a (siamese) policy compares what it sees with what it follows.

    The default ``context`` is wider than the glimpse's 0.1: the target moves between frames, and the glimpse
    taken at the previous frame's box must still contain it for the agent to see where to go.
    """

    defaults = {**GlimpseObservation.defaults, "context": 0.25}

    def space(self, env: BoxEnv) -> spaces.Dict:
        s = self.config["size"]
        return spaces.Dict({**super().space(env).spaces, "template": spaces.Box(0, 255, (s, s, 3), np.uint8)})

    def observe(self, env: FaceTrackingEnv) -> dict[str, np.ndarray]:
        template = env.template_pyramid.crop(env.template_box, self.config["size"], self.config["context"])
        return {**super().observe(env), "template": template}


class FaceTrackingEnv(BoxEnv):
    """
    ## Description
    Follow one face through a video by moving its box, as ADNet (Yun et al., CVPR 2017) does: on each frame
    the agent refines the box carried over from the previous frame with up to ``max_actions`` moves, then
    stops; the box is accepted as the frame's result and the next frame appears under it. Videos come from
    any facebox video source: the synthetic generator by default, real sequences such as ``"otb:PATH"``, clips of a
    virtual camera over real stills (``"stills:csv:PATH?images=images"``), or a weighted mixture of them.

    ## Action Space
    ``Discrete(11)``: 0 left, 1 left×2, 2 right, 3 right×2, 4 up, 5 up×2, 6 down, 7 down×2, 8 stop,
    9 smaller, 10 bigger. A step is ``alpha`` (0.03) of the current box width/height, at least ``min_step``
    (1 px); ×2 moves two steps; smaller/bigger change width and height by one step about the centre. The box is
    kept inside the frame (shifted, not clipped) and at least ``min_size`` pixels per side. The localization
    action sets (``action.type`` ``discrete`` | ``continuous``) work here too, their trigger acting as stop.

    ## Observation Space
    ``Dict(glimpse=Box(0, 255, (S, S, 3), uint8), template=Box(0, 255, (S, S, 3), uint8),
    history=Box(0, 1, (10 * 11,), float32))``: the current frame around the box with ``context`` (0.25 of its
    size per side) warped to S = 64 px (ADNet uses 112); the target on the episode's first frame cropped the
    same way; the one-hot last 10 actions, newest last, kept across frames so they also tell the recent motion.
    The localization observation types (``glimpse``, ``image_mask``) are available too.

    ## Rewards
    ``reward="adnet"``: when a frame's box is accepted, ``+frame_reward`` (1.0) if its IoU with the ground truth
    is above ``iou_threshold`` (0.7), else ``−frame_reward``; moves earn nothing. (ADNet gives the clip's final
    outcome to every action of the clip; rewarding each frame is the per-step equivalent for value-based RL.)
    ``reward="dense"`` adds ``sign(IoU(b', g) − IoU(b, g))`` for every move. ``info["rewards"]`` holds the
    ``move`` and ``frame`` components. A frame whose ground truth is NaN (target absent or unannotated) earns
    nothing, and its IoU and centre error are NaN.

    ## Starting State
    A sequence is drawn from the dataset with the env's ``np_random``. ``mode="train"``: a random annotated
    frame ``s`` is chosen such that ``clip_length`` (10) frames follow it where the sequence allows (shorter
    sequences give shorter clips); ``mode="eval"``: ``s`` is the first annotated frame and every later frame is
    tracked, as OTB's one-pass evaluation prescribes. The template is taken on frame ``s`` at its ground truth,
    and the box starts at that ground truth (in training moved by up to ``jitter`` (0.0) of its size per axis
    and scaled by up to ``1 ± jitter``) on frame ``s + 1``. ``reset(options={"index": i, "start": s})`` picks
    sequence ``i`` and start frame ``s`` instead of sampling (deterministic evaluation sweeps).

    ## Episode End
    Terminated when the box of the last frame of the clip (train) or sequence (eval) is accepted: by ``stop``
    or by the ``max_actions``-th (20) action on that frame. An episode therefore never exceeds
    ``frames × max_actions`` steps and no time limit is registered. A ``step`` after termination raises
    ``gymnasium.error.ResetNeeded``.

    ## Arguments
    ``gym.make("facebox/FaceTracking-v0", config={...}, render_mode="rgb_array")``. ``config`` keys (all
    optional; unknown keys and values of the wrong type or out of range raise a ``ConfigError`` naming the key):
    ``dataset`` (spec string, ``{spec: weight}`` mapping or a ``VideoDataset``, default ``"synthetic"``), ``mode``,
    ``clip_length`` (integer ≥ 1), ``max_actions`` (integer ≥ 1), ``reward``, ``iou_threshold`` (in [0, 1)),
    ``frame_reward`` (≥ 0), ``jitter`` (in [0, 1)), ``min_size`` (≥ 1 px), ``observation`` (``type``
    ``template`` | ``glimpse`` | ``image_mask``, ``size``, ``context``, ``history``), ``action`` (``type``
    ``adnet`` | ``discrete`` | ``continuous``, ``alpha`` (in (0, 1]), ``min_step`` (≥ 0 px)). ``info`` carries
    ``frame`` (index of the frame the box is on), ``iou``, ``center_error`` (px), ``box``, ``target`` (xyxy
    float32), ``positive_actions`` (moves that raise the IoU; stop when no move does and the IoU is above
    ``iou_threshold``, or when the frame has no ground truth) and ``rewards`` — the same keys at every step, reset
    included, so that vector envs can stack them. The track so far is the attribute :attr:`track`.

    >>> import gymnasium as gym, facebox
    >>> env = gym.make("facebox/FaceTracking-v0")
    >>> obs, info = env.reset(seed=0)
    >>> sorted(obs), obs["template"].shape
    (['glimpse', 'history', 'template'], (64, 64, 3))

    ## Version History
    * v0: initial release.
    * v0, issue 17: config values are checked at construction; ``step(True)`` and other non-integer actions raise;
      ``info["track"]``, which grew every frame and so broke vector envs, is the attribute ``track`` instead; the
      reset info's ``rewards`` has the step's components (0).
    * v0, issue 19: ``dataset`` takes a ``{spec: weight}`` mixture and the ``stills:`` clips of real photos.
    """

    action_types = {**ACTION_TYPES, "adnet": TrackingActions}
    observation_types = {**OBSERVATION_TYPES, "template": TemplateObservation}

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            **super().default_config(),
            "observation": {"type": "template"},
            "action": {"type": "adnet"},
            "dataset": "synthetic",
            "mode": "train",
            "clip_length": 10,
            "max_actions": 20,
            "reward": "adnet",
            "iou_threshold": 0.7,
            "frame_reward": 1.0,
            "jitter": 0.0,
        }

    config_rules = {
        **BoxEnv.config_rules,
        "dataset": instance_of(str, VideoDataset, Mapping),
        "mode": one_of(*MODES),
        "clip_length": number(ge=1, integer=True),
        "max_actions": number(ge=1, integer=True),
        "reward": one_of(*REWARDS),
        "iou_threshold": number(ge=0, lt=1),  # passed by an IoU strictly above it
        "frame_reward": number(ge=0),
        "jitter": number(ge=0, lt=1),  # a fraction of the box: 1 could scale it to nothing
    }
    reward_terms = ("move", "frame")

    def __init__(
        self, config: Mapping | None = None, render_mode: str | None = None, base_config: Mapping | None = None
    ) -> None:
        super().__init__(config, render_mode, base_config)
        self.dataset: VideoDataset = self._open_dataset(open_video_dataset, "sequences")
        self.sequence: VideoSequence | None = None

    def _start_episode(self, options: dict) -> None:
        if "index" in options:
            sequence = self.dataset[int(options["index"])]
        else:
            sequence = self.dataset.sample(self.np_random)
        gt = np.asarray(sequence.boxes, dtype=np.float64)
        start = self._start_frame(sequence, gt, options.get("start"))
        last = len(gt) - 1 if self.config["mode"] == "eval" else min(start + self.config["clip_length"], len(gt) - 1)
        self.sequence, self.gt, self.last_frame = sequence, gt, last
        self._set_image(sequence.frame(start))
        self.template_pyramid, self.template_box = self.pyramid, gt[start]
        self.box = self._jitter(gt[start]) if self.config["mode"] == "train" else gt[start].copy()
        self._track = np.empty((last - start + 1, 4), dtype=np.float32)
        self._track[0], self.tracked = self.box, 1
        self._enter_frame(start + 1)

    @property
    def track(self) -> np.ndarray:
        """float32 ``[n, 4]``: the start box on frame ``s``, then the accepted box of each finished frame ``s + 1,
        s + 2, ...``; at the end of an eval episode, the tracker's result for the whole sequence from ``s`` on.

        An attribute, not an ``info`` entry: it grows every frame, and vector envs need infos of a fixed structure.
        Through wrappers it is ``env.unwrapped.track``; from a vector env, ``envs.get_attr("track")``.
        """
        return self._track[: self.tracked].copy()

    def _start_frame(self, sequence: VideoSequence, gt: np.ndarray, start: int | None) -> int:
        """An annotated frame with at least one frame after it; in training, one a whole clip follows."""
        annotated = np.flatnonzero(np.isfinite(gt[:-1]).all(axis=1))
        if len(annotated) == 0:
            raise ValueError(
                f"sequence {sequence.name!r} ({len(gt)} frames) has no annotated frame followed by another frame"
            )
        if start is not None:
            if int(start) not in annotated:
                raise ValueError(
                    f"reset option start={start} in sequence {sequence.name!r}: the start frame needs a ground "
                    f"truth box and a frame after it (valid: {annotated.min()}..{annotated.max()}, annotated)"
                )
            return int(start)
        if self.config["mode"] == "eval":
            return int(annotated[0])
        whole = annotated[annotated + self.config["clip_length"] < len(gt)]
        candidates = whole if len(whole) else annotated
        return int(candidates[self.np_random.integers(len(candidates))])

    def _jitter(self, box: np.ndarray) -> np.ndarray:
        j = self.config["jitter"]
        if j == 0:
            return box.copy()
        dx, dy, ds = self.np_random.uniform(-j, j, size=3)
        w, h = (box[2] - box[0]) * (1 + ds), (box[3] - box[1]) * (1 + ds)
        cx, cy = (box[0] + box[2]) / 2 + dx * (box[2] - box[0]), (box[1] + box[3]) / 2 + dy * (box[3] - box[1])
        return legalize(np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]), *self.bounds)

    def _enter_frame(self, index: int) -> None:
        """Show frame ``index`` with the box where the previous frame left it."""
        self.frame, self.actions_in_frame = index, 0
        self._set_image(self.sequence.frame(index))
        self._set_targets(self.gt[index])

    def _frame_ends(self, terminal: bool) -> bool:
        return terminal or self.actions_in_frame + 1 >= self.config["max_actions"]

    def _terminal_is_positive(self) -> bool:
        """Stop when the box cannot get better: no ground truth, or no move raises an IoU that already passes."""
        if not np.isfinite(self.iou):
            return True
        if self.iou <= self.config["iou_threshold"]:
            return False
        return bool(self.candidate_ious.max() <= self.iou + 1e-9)

    def _rewards(self, terminal: bool, iou_before: float) -> dict[str, float]:
        if not np.isfinite(self.iou):
            return {"move": 0.0, "frame": 0.0}
        move = 0.0
        if self.config["reward"] == "dense" and not terminal:
            move = float(np.sign(round(self.iou - iou_before, 9)))
        frame = 0.0
        if self._frame_ends(terminal):
            frame = self.config["frame_reward"] * (1.0 if self.iou > self.config["iou_threshold"] else -1.0)
        return {"move": move, "frame": frame}

    def _advance(self, terminal: bool) -> bool:
        ends = self._frame_ends(terminal)
        self.actions_in_frame += 1
        if not ends:
            return False
        self._track[self.tracked], self.tracked = self.box, self.tracked + 1
        if self.frame >= self.last_frame:
            return True
        self._enter_frame(self.frame + 1)
        return False

    def _info(self, rewards: dict[str, float]) -> dict[str, Any]:
        return {
            **super()._info(rewards),
            "frame": self.frame,
            "center_error": float(center_error(self.box, self.gt[self.frame])),
        }

    def _caption(self) -> str:
        return f"frame {self.frame}  IoU {self.iou:.2f}  {self.last_action or 'start'}"
