"""Single-face localization by box moves (Caicedo & Lazebnik, ICCV 2015)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from facebox.config import instance_of, number, one_of
from facebox.envs.augment import Augmentation
from facebox.envs.core import BoxEnv
from facebox.envs.data import FaceDataset, FaceImage, open_dataset
from facebox.envs.data.cache import with_cache

__all__ = ["FaceLocalizationEnv", "TARGET_POLICIES", "START_POLICIES", "localization_rewards"]

TARGET_POLICIES = ("largest", "random", "any")
START_POLICIES = ("image", "random")


class FaceLocalizationEnv(BoxEnv):
    """
    ## Description
    An agent moves and reshapes a box over an image until the box sits on a face, then triggers — the
    active-localization MDP of Caicedo & Lazebnik (ICCV 2015) with faces (human or animal) as the class.
    Images come from any facebox face source: the embedded synthetic generator by default, or a real data
    set named by a spec such as ``"wider:PATH"`` or ``"voc:PATH?classes=cat_face"``.

    ## Action Space
    ``Discrete(9)``: 0 right, 1 left, 2 up, 3 down, 4 bigger, 5 smaller, 6 fatter (height −α), 7 taller
    (width −α), 8 trigger. A move changes the box by ``alpha`` (0.2) of its *current* width/height; the box
    is kept inside the image (a translation is stopped at the edge without shrinking) and at least
    ``min_size`` pixels per side. ``FaceLocalizationContinuous-v0`` uses ``Box(-1, 1, (5,))``: centre shift
    x/y and size change w/h in units of ``alpha`` of the box, and a trigger when the fifth value exceeds
    ``trigger_threshold`` (0.0).

    ## Observation Space
    ``Dict(glimpse=Box(0, 255, (S, S, 3), uint8), history=Box(0, 1, (10 * 9,), float32))``: the box region
    with ``context`` (0.1 of its size per side) warped to S = 64 px, and the one-hot last 10 actions (newest
    last). ``observation.type = "image_mask"`` gives instead ``image``: the whole image at S² with a fourth
    channel that is 255 inside the box.

    ## Rewards
    A move earns ``sign(IoU(b', g) − IoU(b, g))`` (0 if unchanged); the trigger earns ``+eta`` (3.0) if IoU ≥
    ``tau`` (0.6) else ``−eta``. ``info["rewards"]`` holds the ``move`` and ``trigger`` components. With several
    faces, ``target="any"`` scores against the best-matching face.

    ## Starting State
    An image is drawn from the dataset with the env's ``np_random`` (a mixture first draws the source by its weight)
    and augmented when ``augment`` says so; the target face is the largest one
    (``target="largest"``), a random one (``"random"``) or every face (``"any"``). The box starts as the whole
    image (``start="image"``) or a random box of 25–100 % of each side, never below ``min_size`` (``"random"``).
    ``reset(options={"index": i})`` picks image ``i`` instead of sampling (deterministic evaluation sweeps).

    ## Episode End
    Terminated on trigger; truncated after ``max_episode_steps`` (40) by Gymnasium's ``TimeLimit``. A ``step``
    after termination raises ``gymnasium.error.ResetNeeded``.

    ## Arguments
    ``gym.make("facebox/FaceLocalization-v0", config={...}, render_mode="rgb_array")``. ``config`` keys (all
    optional; unknown keys and values of the wrong type or out of range raise a ``ConfigError`` naming the key):
    ``dataset`` (spec string, a ``{spec: weight}`` mapping that mixes sources by weight, or a ``FaceDataset``;
    default ``"synthetic"``), ``augment`` (:class:`facebox.envs.augment.Augmentation`'s options: ``flip``, ``zoom``,
    ``brightness``, ``contrast``, ``saturation``, ``grey``, ``blur``; all off by default), ``target``, ``start``,
    ``image_cache`` (MB of decoded photos shared by every process on the machine, :mod:`facebox.envs.data.cache`; 0
    decodes at every use), ``eta`` (≥ 0),
    ``tau`` (in (0, 1]), ``min_size`` (≥ 1 px), ``observation`` (``type`` ``glimpse`` | ``image_mask``, ``size``
    (integer ≥ 1), ``context`` (≥ 0), ``history`` (integer ≥ 1), ``scene`` (integer ≥ 0)), ``action`` (``type``
    ``discrete`` | ``continuous``, ``alpha`` (in (0, 1]), ``min_step`` (≥ 0 px), ``trigger_threshold`` (in [-1,
    1))). ``info`` carries ``iou``, ``box``, ``target`` (xyxy float32), ``positive_actions`` (bool mask over the 9
    actions: moves that raise the IoU, and trigger when IoU ≥ tau) and ``rewards`` — the same keys at every step,
    reset included (``rewards`` then 0), so that vector envs can stack them.

    >>> import gymnasium as gym, facebox
    >>> env = gym.make("facebox/FaceLocalization-v0")
    >>> obs, info = env.reset(seed=0)
    >>> sorted(obs), obs["glimpse"].shape
    (['glimpse', 'history'], (64, 64, 3))

    ## Version History
    * v0: initial release.
    * v0, issue 17: config values are checked at construction; ``step(True)`` and other non-integer actions raise;
      ``step`` after the trigger raises ``ResetNeeded``; random starts respect ``min_size``; the reset info's
      ``rewards`` has the step's components (0).
    * v0, issue 19: ``dataset`` may mix sources by weight; ``augment`` flips, zooms and recolours each episode's image
      with its boxes (off by default: the default env's episodes are unchanged).
    """

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            **super().default_config(),
            "dataset": "synthetic",
            "target": "largest",
            "start": "image",
            "eta": 3.0,
            "tau": 0.6,
            "augment": dict(Augmentation.defaults),
            "image_cache": 0,
        }

    config_rules = {
        **BoxEnv.config_rules,
        "dataset": instance_of(str, FaceDataset, Mapping),
        "augment": instance_of(Mapping),  # checked by Augmentation
        "image_cache": number(ge=0),  # MB
        "target": one_of(*TARGET_POLICIES),
        "start": one_of(*START_POLICIES),
        "eta": number(ge=0),
        "tau": number(gt=0, le=1),  # an IoU; 0 would reward every trigger
    }
    reward_terms = ("move", "trigger")

    def __init__(
        self, config: Mapping | None = None, render_mode: str | None = None, base_config: Mapping | None = None
    ) -> None:
        super().__init__(config, render_mode, base_config)
        self.augmentation = Augmentation(self.config["augment"], where="config['augment']")
        self.config["augment"] = self.augmentation.config
        self.dataset: FaceDataset = self._open_dataset(open_dataset, "images")
        if self.config["image_cache"]:
            self.dataset = with_cache(self.dataset, self.config["image_cache"])
        self.record: FaceImage | None = None

    def _start_episode(self, options: dict) -> None:
        if "index" in options:
            record = self.dataset[int(options["index"])]
        else:
            record = self.dataset.sample(self.np_random)
        if len(record.boxes) == 0:
            raise ValueError(f"{record.source}: image has no face boxes; the localization task needs one")
        self.record = record
        image, boxes = record.image, record.boxes.astype(np.float64)
        if self.augmentation.active:
            image, boxes = self.augmentation(image, boxes, self.np_random)
        self._set_image(image)
        if self.config["target"] == "largest":
            areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            boxes = boxes[[int(np.argmax(areas))]]
        elif self.config["target"] == "random":
            boxes = boxes[[int(self.np_random.integers(len(boxes)))]]
        w, h, min_size = self.bounds
        if self.config["start"] == "image":
            self.box = np.array([0.0, 0.0, w, h])
        else:
            side = np.array([w, h])
            bw, bh = self.np_random.uniform(np.minimum(np.maximum(0.25 * side, min_size), side), side)
            x1, y1 = self.np_random.uniform(0, 1, size=2) * (w - bw, h - bh)
            self.box = np.array([x1, y1, x1 + bw, y1 + bh])
        self._set_targets(boxes)

    def _terminal_is_positive(self) -> bool:
        return self.iou >= self.config["tau"]

    def _rewards(self, terminal: bool, iou_before: float) -> dict[str, float]:
        move, trigger = localization_rewards(terminal, self.iou, iou_before, self.config["eta"], self.config["tau"])
        return {"move": float(move), "trigger": float(trigger)}


def localization_rewards(terminal, now, before, eta: float, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``move`` and ``trigger`` rewards of a step (scalars, or arrays for a batched env): the sign of the IoU
    change (rounded, so that float noise is no change) for a move, ``+-eta`` by ``IoU >= tau`` for the trigger."""
    move = np.where(terminal, 0.0, np.sign(np.round(np.subtract(now, before), 9)))
    return move, np.where(terminal, np.where(np.greater_equal(now, tau), eta, -eta), 0.0)
