"""N localization envs stepped as one Gymnasium vector env, in one process: ``gym.make_vec(id, num_envs=N,
vectorization_mode="vector_entry_point")``.

Why: a step's box arithmetic (every move's box, its legal form and its IoU with the faces) is a dozen numpy calls on a
handful of numbers, so N envs stepped one by one pay N times the calls' overhead for almost no arithmetic, and
subprocess workers add a pipe round trip and pickled observations to every step. Here the boxes, their candidates,
IoUs, rewards, histories and truncation counters of all N envs are ``[N, ...]`` arrays advanced by one call each
(:func:`facebox.envs.core.box_ious`, the single env's own arithmetic, so that transitions are bit for bit those of N
single envs seeded alike). What stays per env: drawing or decoding the image at a reset and warping the glimpse,
done by each sub-env's own code (:class:`FaceLocalizationEnv`), whose box and history are views into the batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium.envs.registration import EnvSpec
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from facebox.config import ConfigError
from facebox.envs.actions import ContinuousActions
from facebox.envs.core import box_ious, positive_mask
from facebox.envs.localization import FaceLocalizationEnv, localization_rewards

__all__ = ["BatchedLocalizationEnv", "accepts_batching"]

_MODES = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)
_VECTOR_KWARGS = (
    "num_envs",
    "vectorization_mode",
    "autoreset_mode",
    "max_episode_steps",
)  # make_vec's, not the single env's


def accepts_batching(config: Mapping | None) -> bool:
    """Whether the batched env takes the single env's ``config``: it batches the discrete action type only."""
    action = (config or {}).get("action") or {}
    return isinstance(action, Mapping) and action.get("type", "discrete") == "discrete"


class BatchedLocalizationEnv(VectorEnv):
    """
    ## Description
    ``num_envs`` copies of :class:`facebox.envs.localization.FaceLocalizationEnv` (same task, same ``config``) as one
    vector env whose step advances every box in one numpy call. Returns what Gymnasium's ``SyncVectorEnv`` of the
    single envs returns, bit for bit (tested): observations, rewards, terminations, truncations and infos.

    ## Action Space
    ``MultiDiscrete([9] * num_envs)``: one discrete action per env (the continuous variant is not batched).

    ## Observation Space
    The single env's ``Dict`` space batched: every entry gets a leading ``num_envs`` dimension.

    ## Rewards
    The single env's, per env.

    ## Starting State
    ``reset(seed=s)`` resets env ``i`` with seed ``s + i`` (a list gives each env its seed), as ``SyncVectorEnv``.

    ## Episode End
    Env ``i`` is terminated on its trigger and truncated after ``max_episode_steps`` (40, the registered limit), then
    reset automatically: on its next step (``autoreset_mode=NEXT_STEP``, Gymnasium's default; that step's action is
    ignored) or within the same step, with the last observation and info in ``info["final_obs"]`` and
    ``info["final_info"]`` (``SAME_STEP``, what SB3 expects).

    ## Arguments
    ``gym.make_vec("facebox/FaceLocalization-v0", num_envs=N, vectorization_mode="vector_entry_point",
    config={...}, autoreset_mode=...)``; ``config`` and ``render_mode`` are the single env's.

    ## Version History
    * v0, issue 21: initial release.
    """

    def __init__(
        self,
        num_envs: int = 1,
        config: Mapping | None = None,
        render_mode: str | None = None,
        base_config: Mapping | None = None,
        max_episode_steps: int = 40,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ConfigError(f"num_envs: expected an integer >= 1, got {num_envs!r}")
        if isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, int) or max_episode_steps < 1:
            raise ConfigError(f"max_episode_steps: expected an integer >= 1, got {max_episode_steps!r}")
        try:
            mode = AutoresetMode(autoreset_mode)
        except ValueError:
            mode = None
        if mode not in _MODES:
            raise ConfigError(f"autoreset_mode: expected one of {[m.value for m in _MODES]}, got {autoreset_mode!r}")
        self._spec: EnvSpec | None = None
        self.envs = [FaceLocalizationEnv(config, render_mode, base_config) for _ in range(num_envs)]
        first = self.envs[0]
        if isinstance(first.action_type, ContinuousActions):  # what accepts_batching rules out
            raise ConfigError(
                "config['action']['type']: expected 'discrete' for the batched env, got 'continuous' "
                "(use vectorization_mode='sync' or 'async')"
            )
        self.num_envs, self.render_mode, self.max_episode_steps = num_envs, render_mode, max_episode_steps
        self.autoreset_mode = mode
        self.metadata = {**first.metadata, "autoreset_mode": mode}
        self.single_observation_space, self.single_action_space = first.observation_space, first.action_space
        self.observation_space = batch_space(first.observation_space, num_envs)
        self.action_space = batch_space(first.action_space, num_envs)
        self.action_type, self.tau, self.eta = first.action_type, first.config["tau"], first.config["eta"]
        at = first.action_type
        self._slot = np.full(len(at.table), -1)  # action -> its row among the candidate boxes
        self._slot[list(at.moves)] = np.arange(len(at.moves))
        self._one_hot = np.eye(len(at.table), dtype=np.float32)
        n = num_envs
        self._boxes = np.zeros((n, 4))
        self._history = np.zeros((n, first.observation_type.config["history"], at.encoding_size), np.float32)
        self._targets = np.zeros((n, 1, 4))
        self._limits = np.zeros((2, n, 1))  # each image's width and height, broadcast against the moves
        m = len(at.moves)
        self._candidates, self._candidate_ious = np.zeros((n, m, 4)), np.zeros((n, m))
        self._best, self._iou = np.zeros(n, np.int64), np.zeros(n)
        self._elapsed = np.zeros(n, np.int64)
        self._autoreset = np.zeros(n, bool)
        self._last: list[str | None] = [None] * n

    # -- Gymnasium's VectorEnv ------------------------------------------------------------------------------
    @property
    def spec(self) -> EnvSpec | None:
        return self._spec

    @spec.setter
    def spec(self, spec: EnvSpec | None) -> None:
        """``make_vec`` sets the vector env's spec; each sub-env gets the single env's, as ``gym.make`` would give it,
        so that ``get_attr("spec")`` answers what a sub-env of a Sync or SB3 vec env answers (a warm start makes its
        demonstration envs from it)."""
        self._spec = spec
        if spec is not None:
            kwargs = {k: v for k, v in spec.kwargs.items() if k not in _VECTOR_KWARGS}
            for env in self.envs:
                env.spec = dataclasses.replace(spec, kwargs=kwargs)

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict | None = None):
        seeds = _seeds(seed, self.num_envs)
        super().reset(seed=seeds[0])
        observations, infos = [], []
        for i, env in enumerate(self.envs):
            obs, info = env.reset(seed=seeds[i], options=options)
            self._adopt(i)
            observations.append(obs)
            infos.append(info)
        self._autoreset[:] = False
        self._refresh()
        return self._batch(observations), _vector_info(infos)

    def step(self, actions):
        actions = self._checked(actions)
        n, at = self.num_envs, self.action_type
        stepping = ~self._autoreset if self.autoreset_mode == AutoresetMode.NEXT_STEP else np.ones(n, bool)
        terminal = actions == at.terminal_action
        moving = stepping & ~terminal
        rows = np.flatnonzero(moving)
        self._boxes[rows] = self._candidates[rows, self._slot[actions[rows]]]
        before = self._iou.copy()
        self._refresh()
        self._history[stepping, :-1] = self._history[stepping, 1:]
        self._history[stepping, -1] = self._one_hot[actions[stepping]]
        move, trigger = localization_rewards(terminal, self._iou, before, self.eta, self.tau)
        self._elapsed += stepping
        terminated, truncated = stepping & terminal, stepping & (self._elapsed >= self.max_episode_steps)
        rewards = np.where(stepping, move + trigger, 0.0)
        for i in np.flatnonzero(stepping):
            self._last[i] = at.names[actions[i]]
        infos = self._info(move, trigger)
        observations = [
            env.observation_type.observe(env) if s else None for env, s in zip(self.envs, stepping, strict=True)
        ]
        done = terminated | truncated
        if self.autoreset_mode == AutoresetMode.SAME_STEP and done.any():
            final = {"final_obs": np.full(n, None, dtype=object), "_final_obs": done.copy()}
            for i in np.flatnonzero(done):
                final["final_obs"][i] = observations[i]
            final["final_info"], final["_final_info"] = _masked(infos, done), done.copy()
            restart = done
        else:
            final, restart = {}, ~stepping
        if restart.any():
            rows = np.flatnonzero(restart)
            for i in rows:
                observations[i], info = self.envs[i].reset()
                self._adopt(i)
                _put(infos, info, i)
            self._refresh(rows)
        self._autoreset = done
        return self._batch(observations), rewards, terminated, truncated, {**infos, **final}

    def render(self) -> tuple[np.ndarray | None, ...]:
        for i, env in enumerate(self.envs):  # the scalars a frame's caption shows
            env.iou, env.best_target, env.last_action = float(self._iou[i]), int(self._best[i]), self._last[i]
        return tuple(env.render() for env in self.envs)

    def close_extras(self, **kwargs: Any) -> None:
        for env in self.envs:
            env.close()

    # -- the batch --------------------------------------------------------------------------------------------
    def _checked(self, actions) -> np.ndarray:
        a = np.asarray(actions)
        n, m = self.num_envs, len(self.action_type.table)
        if (
            a.shape != (n,)
            or not np.issubdtype(a.dtype, np.integer)
            or a.dtype == bool
            or not ((a >= 0) & (a < m)).all()
        ):
            raise ValueError(
                f"actions {actions!r}: expected {n} integers in 0..{m - 1} ({', '.join(self.action_type.names)}), "
                f"one per env, as an array of shape ({n},)"
            )
        return a.astype(np.int64)

    def _adopt(self, i: int) -> None:
        """Take env ``i``'s fresh episode into the batch; its box and history become views of the batch's rows."""
        env = self.envs[i]
        self._boxes[i], self._history[i] = env.box, env.history
        env.box, env.history = self._boxes[i], self._history[i]
        self._limits[:, i, 0] = env.bounds[:2]
        faces = env.targets
        if len(faces) > self._targets.shape[1]:  # more faces than any env had: widen, repeating each env's first
            wider = np.repeat(self._targets[:, :1], len(faces), axis=1)
            wider[:, : self._targets.shape[1]] = self._targets
            self._targets = wider
        self._targets[i] = faces[0]  # padding by a repeated face changes neither the best IoU nor which face is best
        self._targets[i, : len(faces)] = faces
        self._elapsed[i], self._last[i] = 0, None

    def _refresh(self, rows: np.ndarray | slice = slice(None)) -> None:
        """The candidates and IoUs of ``rows`` (every env by default) from their boxes, in place."""
        bounds = (self._limits[0, rows], self._limits[1, rows], self.envs[0].bounds[2])
        state = box_ious(self.action_type, self._boxes[rows], bounds, self._targets[rows])
        for array, value in zip((self._candidates, self._best, self._iou, self._candidate_ious), state, strict=True):
            array[rows] = value

    def _info(self, move: np.ndarray, trigger: np.ndarray) -> dict[str, Any]:
        """The infos SyncVectorEnv would stack from the single envs' ``_info``, with every env present."""
        every = np.ones(self.num_envs, bool)
        values = {
            "iou": self._iou.copy(),
            "box": self._boxes.astype(np.float32),
            "target": self._targets[np.arange(self.num_envs), self._best].astype(np.float32),
            "positive_actions": positive_mask(self.action_type, self._candidate_ious, self._iou, self._iou >= self.tau),
        }
        info: dict[str, Any] = {}
        for key, value in values.items():
            info[key], info[f"_{key}"] = value, every.copy()
        rewards = {"move": move, "_move": every.copy(), "trigger": trigger, "_trigger": every.copy()}
        return {**info, "rewards": rewards, "_rewards": every.copy()}

    def _batch(self, observations: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        return {key: np.stack([obs[key] for obs in observations]) for key in self.single_observation_space}


def _seeds(seed, n: int) -> list[int | None]:
    if seed is None:
        return [None] * n
    if isinstance(seed, int | np.integer):
        return [int(seed) + i for i in range(n)]
    seeds = list(seed)
    if len(seeds) != n:
        raise ValueError(f"seed: expected an int or a list of {n} seeds (one per env), got {len(seeds)} seeds")
    return seeds


def _vector_info(infos: list[dict]) -> dict[str, Any]:
    """Per-env info dicts stacked key by key with ``_key`` masks, as Gymnasium's vector envs do."""
    out: dict[str, Any] = {}
    for i, info in enumerate(infos):
        _put(out, info, i, len(infos))
    return out


def _put(out: dict, info: Mapping, i: int, n: int | None = None) -> None:
    """Write env ``i``'s ``info`` into the stacked ``out`` (arrays created on first sight when ``n`` is given)."""
    for key, value in info.items():
        if isinstance(value, Mapping):
            _put(out.setdefault(key, {}), value, i, n)
        else:
            if key not in out:
                value = np.asarray(value)
                out[key] = np.zeros((n, *value.shape), dtype=value.dtype)
            out[key][i] = value
        if f"_{key}" not in out:
            out[f"_{key}"] = np.zeros(n, bool)
        out[f"_{key}"][i] = True


def _masked(info: Mapping, rows: np.ndarray) -> dict[str, Any]:
    """``info`` restricted to ``rows``: other rows zero and absent from the masks, as SyncVectorEnv's ``final_info``."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, Mapping):
            out[key] = _masked(value, rows)
        elif key.startswith("_"):
            out[key] = value & rows
        else:
            out[key] = np.where(rows.reshape(-1, *[1] * (value.ndim - 1)), value, np.zeros((), value.dtype))
    return out
