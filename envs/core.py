"""The skeleton every facebox environment shares: a box refined by actions over an image.

What is common lives here — strict config, pluggable observation/action types, the action history, IoU
against the target faces, ``info["positive_actions"]``, rendering. A task overrides the hooks
``_start_episode`` (what image, which faces, where the box starts), ``_rewards`` and ``_advance`` (what the
terminal action does), as Minigrid tasks override ``_gen_grid``, and declare their config keys' defaults and
rules and their reward components.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

import cv2
import gymnasium as gym
import numpy as np

from facebox.config import ConfigError, Rule, check_values, lookup, merge_config, number
from facebox.envs.actions import ACTION_TYPES, ActionType
from facebox.envs.boxes import iou
from facebox.envs.observations import OBSERVATION_TYPES, ObservationType, Pyramid

__all__ = ["BoxEnv", "box_ious", "positive_mask"]

_TYPED_SECTIONS = ("observation", "action")


def box_ious(
    action_type: ActionType, box: np.ndarray, bounds: tuple, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every move's box from ``box [..., 4]``, and the best target, the IoU with it and each move's best IoU
    against ``targets [..., T, 4]``: one env's state (no batch dimensions) or a batched env's (``[N]``), in the
    same arithmetic, so that a batched env's transitions are its single envs' bit for bit.
    """
    candidates = action_type.candidate_boxes(box, bounds)
    ious = iou(np.concatenate([box[..., None, :], candidates], axis=-2), targets)
    first = ious[..., 0, :]
    return candidates, first.argmax(axis=-1), first.max(axis=-1), ious[..., 1:, :].max(axis=-1)


def positive_mask(action_type: ActionType, candidate_ious: np.ndarray, now, ending_is_right) -> np.ndarray:
    """``info["positive_actions"]`` from each move's IoU ``[..., M]``, the box's IoU and whether ending now is right
    (scalars or ``[...]`` arrays)."""
    now = np.asarray(now)
    mask = np.zeros((*now.shape, len(action_type.table)), dtype=bool)
    mask[..., action_type.moves] = candidate_ious > now[..., None] + 1e-9
    mask[..., action_type.terminal_action] = ending_is_right
    return mask


class BoxEnv(gym.Env, ABC):
    """Base class; see :class:`facebox.envs.localization.FaceLocalizationEnv` for the documented task."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
    action_types: dict[str, type[ActionType]] = ACTION_TYPES
    observation_types: dict[str, type[ObservationType]] = OBSERVATION_TYPES

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"observation": {"type": "glimpse"}, "action": {"type": "discrete"}, "min_size": 8.0}

    # A rule for every key of ``default_config`` but the typed sections, which their types check.
    config_rules: dict[str, Rule] = {"min_size": number(ge=1)}  # pixels
    # The keys of ``info["rewards"]``: the same at every step, reset included, so that vector envs can stack infos.
    reward_terms: tuple[str, ...] = ()

    def __init__(
        self, config: Mapping | None = None, render_mode: str | None = None, base_config: Mapping | None = None
    ) -> None:
        """``base_config`` is the registered variant's layer (e.g. the continuous action type); ``config`` is
        the user's, applied on top, so ``gym.make(id, config=...)`` never drops the variant.
        """
        modes = self.metadata["render_modes"]
        if render_mode is not None and render_mode not in modes:
            raise ConfigError(f"render_mode: expected None or one of {modes}, got {render_mode!r}")
        self.render_mode = render_mode
        for name, layer in (("base_config", base_config), ("config", config)):
            if layer is not None and not isinstance(layer, Mapping):
                raise ConfigError(f"{name}: expected a mapping, got {type(layer).__name__} {layer!r}")
        layers = [dict(base_config or {}), dict(config or {})]
        sections = {key: {} for key in _TYPED_SECTIONS}
        for layer in layers:
            for key in _TYPED_SECTIONS:
                value = layer.pop(key, None) or {}
                if not isinstance(value, Mapping):
                    example = {"type": self.default_config()[key]["type"]}
                    raise ConfigError(
                        f"config[{key!r}]: expected a mapping such as {example}, got {type(value).__name__} {value!r}"
                    )
                if "type" in value and value["type"] != sections[key].get("type", value["type"]):
                    sections[key] = {}  # a new type does not inherit the old type's options
                sections[key].update(value)
        self.config = merge_config(merge_config(self.default_config(), layers[0]), layers[1])
        for key, registry in (("observation", self.observation_types), ("action", self.action_types)):
            section = {**self.config[key], **sections[key]}
            cls = lookup(registry, section["type"], f"{key} type (config['{key}']['type'])")
            instance = cls(section, where=f"config['{key}']")
            setattr(self, f"{key}_type", instance)
            self.config[key] = {"type": section["type"], **instance.config}
        check_values({k: v for k, v in self.config.items() if k not in _TYPED_SECTIONS}, self.config_rules)
        self.action_space = self.action_type.space()
        self.observation_space = self.observation_type.space(self)
        self.image: np.ndarray | None = None
        self.cache: dict[str, Any] = {}
        self._terminated = False

    # -- hooks ---------------------------------------------------------------------------------------------
    @abstractmethod
    def _start_episode(self, options: dict) -> None:
        """Set the first image (``self._set_image``), target faces (``self.targets``) and ``self.box``."""

    @abstractmethod
    def _rewards(self, terminal: bool, iou_before: float) -> dict[str, float]:
        """Reward components of the step just taken (they go to ``info["rewards"]``)."""

    def _advance(self, terminal: bool) -> bool:
        """Called after the reward of each step; returns ``terminated``."""
        return terminal

    @abstractmethod
    def _terminal_is_positive(self) -> bool:
        """Whether ending refinement now (trigger/stop) is the right action."""

    # -- ground truth, read-only ---------------------------------------------------------------------------
    @property
    def target(self) -> np.ndarray:
        """The face the step is scored against: the target best matching the box (``info["target"]``), as a
        float64 copy of its 4 xyxy coordinates (NaN where the face is absent, e.g. an unannotated frame).

        Public and read-only so that reference policies (the greedy oracle) and imitation learning can read the
        ground truth without reaching into ``targets`` / ``best_target``, which a task is free to change.
        """
        return self.targets[self.best_target].copy()

    @property
    def ending_is_right(self) -> bool:
        """Whether ending refinement now (the trigger / stop action) is right: the expert's terminal decision and
        the terminal entry of ``info["positive_actions"]``. For localization, exactly when the trigger would be
        rewarded; for tracking, when stopping would be rewarded and no move would raise the IoU further (or the
        frame has no ground truth, so nothing can be gained).

        Public and read-only so that reference policies and imitation learning get the expert's decision without
        calling the private hook ``_terminal_is_positive`` that each task implements.
        """
        return bool(self._terminal_is_positive())

    # -- shared machinery ----------------------------------------------------------------------------------
    def _open_dataset(self, open_spec: Callable[[Any], Any], unit: str) -> Any:
        """``config["dataset"]`` opened with ``open_spec``: a bad spec or an empty source is a config mistake named
        under the ``dataset`` key, before any episode starts."""
        spec = self.config["dataset"]
        try:
            dataset = open_spec(spec)
        except ConfigError as err:
            raise ConfigError(f"config['dataset']: {err}") from None
        if len(dataset) == 0:
            raise ConfigError(f"config['dataset'] = {spec!r}: expected a dataset with {unit}, got none")
        return dataset

    def _set_image(self, image: np.ndarray) -> None:
        self.image = image
        self.pyramid = Pyramid(image)
        self.bounds = (float(image.shape[1]), float(image.shape[0]), float(self.config["min_size"]))

    def _set_targets(self, targets: np.ndarray) -> None:
        self.targets = np.asarray(targets, dtype=np.float64).reshape(-1, 4)
        self._update_iou()

    def _update_iou(self) -> None:
        """IoU of the box and of every move's box, in one call: the step's hot path. The move boxes are
        kept for ``positive_actions`` and for applying the next move without recomputing it.
        """
        self.candidates, best, now, self.candidate_ious = box_ious(
            self.action_type, self.box, self.bounds, self.targets
        )
        self.best_target, self.iou = int(best), float(now)

    def history_vector(self) -> np.ndarray:
        return self.history.reshape(-1).copy()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.history = np.zeros(
            (self.observation_type.config["history"], self.action_type.encoding_size), dtype=np.float32
        )
        self.last_action: str | None = None
        self._terminated = False
        self._start_episode(dict(options or {}))
        return self.observation_type.observe(self), self._info(dict.fromkeys(self.reward_terms, 0.0))

    def step(self, action):
        """One action. Stepping on after ``terminated`` is an error, not a no-op: a loop that misses the episode end
        would otherwise go on collecting rewards for a box that no longer means anything (the trigger was pulled,
        the last frame accepted)."""
        if self.image is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._terminated:
            raise gym.error.ResetNeeded("the episode has terminated: call reset() before step()")
        self.action_type.check(action)
        box, terminal = self.action_type.apply(self.box, action, self.bounds, self.candidates)
        before = self.iou
        self.box = box
        self._update_iou()
        self.history[:-1] = self.history[1:]
        self.history[-1] = self.action_type.encode(action)
        self.last_action = self.action_type.name_of(action)
        rewards = self._rewards(terminal, before)
        terminated = self._terminated = self._advance(terminal)
        obs = self.observation_type.observe(self)
        return obs, float(sum(rewards.values())), terminated, False, self._info(rewards)

    def positive_actions(self) -> np.ndarray:
        """Boolean mask over the discrete action table: moves that raise the IoU, and the terminal action
        when ending now is rewarded — what Caicedo's guided exploration samples from.
        """
        return positive_mask(self.action_type, self.candidate_ious, self.iou, self.ending_is_right)

    def _info(self, rewards: dict[str, float]) -> dict[str, Any]:
        """The step's info: the same keys with the same shapes and dtypes at every step, reset included, since
        vector envs stack the infos of their sub-envs (one of which may just have been reset) key by key."""
        return {
            "iou": self.iou,
            "box": self.box.astype(np.float32),
            "target": self.targets[self.best_target].astype(np.float32),
            "positive_actions": self.positive_actions(),
            "rewards": dict(rewards),
        }

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' to gym.make")
            return None
        if self.image is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        return self._draw(self.image, self.targets, self.box, self._caption())

    def _caption(self) -> str:
        return f"IoU {self.iou:.2f}  {self.last_action or 'start'}"

    @staticmethod
    def _draw(image: np.ndarray, targets: np.ndarray, box: np.ndarray, caption: str) -> np.ndarray:
        """Image scaled to 256..640 px on its long side, targets in green (none where a target is absent,
        i.e. NaN), the box in red, a caption bar.
        """
        scale = float(np.clip(256 / max(image.shape[:2]), 1.0, None) * np.clip(640 / max(image.shape[:2]), None, 1))
        frame = cv2.resize(
            image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST if scale > 1 else cv2.INTER_AREA
        )
        thick = max(1, round(max(frame.shape[:2]) / 250))
        for t in targets[np.isfinite(targets).all(axis=1)]:
            p = np.round(t * scale).astype(int)
            cv2.rectangle(frame, tuple(p[:2]), tuple(p[2:] - 1), (0, 220, 0), thick)
        p = np.round(box * scale).astype(int)
        cv2.rectangle(frame, tuple(p[:2]), tuple(p[2:] - 1), (255, 40, 40), thick)
        bar = np.zeros((22, frame.shape[1], 3), np.uint8)
        cv2.putText(bar, caption, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        return np.concatenate([frame, bar], axis=0)
