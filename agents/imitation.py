"""Imitation of the greedy oracle: demonstrations, their mirror images, the loss and the behaviour-cloning trainer.

Uniform random actions rarely reach a face, so early RL sees almost only failures. ADNet's first stage (Yun et
al. 2017) trains the policy network with cross-entropy to reproduce an expert's actions before RL;
:func:`behaviour_cloning` does that with the greedy IoU oracle as the expert, optionally with DAgger rounds in
which the learner drives and the oracle only labels, so the network also sees the states its own mistakes lead
to. The callback that runs it at the start of ``learn`` is :class:`facebox.agents.callbacks.BehaviourCloning`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.dqn.policies import DQNPolicy
from torch import nn
from torch.nn import functional as F

from facebox.envs.policies import GreedyOracle

__all__ = [
    "Demonstrations",
    "Mirror",
    "collect_demonstrations",
    "imitation_loss",
    "behaviour_cloning",
    "Imitation",
    "freeze_encoders",
    "action_logits",
    "policy_forward",
    "box_geometry",
]


def policy_forward(policy, obs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One pass through the policy: the actor's encoder features, the per-action scores (categorical logits of an
    actor-critic policy, Q-values of a DQN policy) and the state values (actor-critic only).
    """
    if isinstance(policy, ActorCriticPolicy):
        features = policy.extract_features(obs)
        pi_features, vf_features = features if isinstance(features, tuple) else (features, features)
        latent_pi = policy.mlp_extractor.forward_actor(pi_features)
        latent_vf = policy.mlp_extractor.forward_critic(vf_features)
        return pi_features, policy.action_net(latent_pi), policy.value_net(latent_vf).flatten()
    if isinstance(policy, DQNPolicy):
        features = policy.q_net.extract_features(obs, policy.q_net.features_extractor)
        return features, policy.q_net.q_net(features), None
    raise TypeError(f"behaviour cloning supports actor-critic and DQN policies, got {type(policy).__name__}")


def action_logits(policy, obs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-action scores: the categorical logits of an actor-critic policy, the Q-values of a DQN policy."""
    return policy_forward(policy, obs)[1]


GEOMETRY_SIZE = 5  # four target corners and the IoU
GEOMETRY_RANGE = (-2.0, 3.0)  # target corners beyond 2 box sizes away carry no useful precision


def box_geometry(env: gym.Env) -> np.ndarray:
    """The target face's corners in the current box's frame (0..1 inside the box) and the IoU: what an agent must
    read from its observation to act, as regression targets.
    """
    base = env.unwrapped
    box, target = base.box, base.target
    size = np.tile(box[2:] - box[:2], 2)
    corners = (target - np.tile(box[:2], 2)) / size
    return np.clip(np.append(corners, base.iou), *GEOMETRY_RANGE).astype(np.float32)


@dataclasses.dataclass
class Demonstrations:
    """States with the oracle's action for each, the action the driver took there, the discounted return that
    followed (whole episodes only, so every return is complete) and the state's :func:`box_geometry`.
    """

    observations: dict[str, np.ndarray]
    labels: np.ndarray
    actions: np.ndarray
    returns: np.ndarray
    geometry: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def write(self, start: int, other: Demonstrations) -> None:
        """Copy ``other`` in at rows ``start, start + 1, ...``, wrapping around (a ring buffer)."""
        idx = (start + np.arange(len(other))) % len(self)
        for k, v in self.observations.items():
            v[idx] = other.observations[k]
        for f in _ARRAYS:
            getattr(self, f)[idx] = getattr(other, f)

    @classmethod
    def empty_like(cls, other: Demonstrations, size: int) -> Demonstrations:
        def blank(v: np.ndarray) -> np.ndarray:
            return np.empty((size, *v.shape[1:]), v.dtype)

        return cls({k: blank(v) for k, v in other.observations.items()}, *(blank(getattr(other, f)) for f in _ARRAYS))

    def batch(self, idx: np.ndarray) -> tuple[dict[str, np.ndarray], ...]:
        return ({k: v[idx] for k, v in self.observations.items()}, *(getattr(self, f)[idx] for f in _ARRAYS))


_ARRAYS = ("labels", "actions", "returns", "geometry")


@dataclasses.dataclass(frozen=True)
class Mirror:
    """Left-right mirroring of demonstration batches: the same task in the mirror image, labelled for free.

    A face on the left that calls for ``left`` is, mirrored, a face on the right that calls for ``right``: image
    keys are flipped along their width, the action history, labels and actions permuted by
    :meth:`ActionType.mirrored`, and the geometry's x corners mirrored (the returns stay). Cloning on a random
    half of each batch mirrored generalises better (docs/experiments.md, 3.6).
    """

    actions: np.ndarray  # the permutation
    width_axes: dict[str, int]  # image key -> its width axis in a batch
    history: str | None  # the key of the one-hot action history, if any

    @classmethod
    def of(cls, env: gym.Env) -> Mirror:
        base = env.unwrapped
        perm, space = base.action_type.mirrored(), env.observation_space
        width_axes, history = {}, None
        for key, sub in space.spaces.items():
            if is_image_space(sub):
                width_axes[key] = 3 if is_image_space_channels_first(sub) else 2
            elif key == "history" and base.action_type.encoding_size == len(perm):  # one-hot actions
                history = key
            else:
                raise ValueError(f"cannot mirror observation key {key!r} ({sub}): only images and the history")
        return cls(perm, width_axes, history)

    def __call__(self, obs: dict[str, np.ndarray], labels, actions, returns, geometry, rows: np.ndarray) -> tuple:
        """The batch with ``rows`` (a boolean mask) mirrored; the inputs are left as they are."""
        obs = {key: value.copy() for key, value in obs.items()}
        for key, axis in self.width_axes.items():
            obs[key][rows] = np.flip(obs[key][rows], axis=axis)
        if self.history is not None:  # one one-hot block per remembered action
            blocks = obs[self.history][rows].reshape(int(rows.sum()), -1, len(self.actions))
            obs[self.history][rows] = blocks[..., self.actions].reshape(len(blocks), -1)
        labels, actions, geometry = labels.copy(), actions.copy(), geometry.copy()
        labels[rows], actions[rows] = self.actions[labels[rows]], self.actions[actions[rows]]
        geometry[np.ix_(rows, [0, 2])] = 1 - geometry[np.ix_(rows, [2, 0])]  # GEOMETRY_RANGE is symmetric about 0.5
        return obs, labels, actions, returns, geometry


def collect_demonstrations(
    policy, envs: list[gym.Env], steps: int, learner_drives: bool, seed: int, gamma: float
) -> Demonstrations:
    """``steps`` states from whole episodes, the oracle or ``policy`` (DAgger) choosing the moves.

    Each finished episode is written straight into arrays allocated once for all ``steps`` states: stacking a
    list of per-state arrays at the end would hold every glimpse twice (at 128 px, 50k states are 2.5 GB a copy).
    """
    oracle = GreedyOracle()
    obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    running: list[list[tuple]] = [[] for _ in envs]  # (obs, label, action, reward, geometry) of each episode
    data, n = None, 0
    while n < steps:
        labels = [oracle.discrete_action(env) for env in envs]
        actions = labels
        if learner_drives:
            actions = policy.predict({k: np.stack([o[k] for o in obs]) for k in obs[0]}, deterministic=True)[0]
        for i, env in enumerate(envs):
            geometry = box_geometry(env)
            next_obs, reward, terminated, truncated, _ = env.step(actions[i])
            running[i].append((obs[i], labels[i], int(actions[i]), reward, geometry))
            obs[i] = next_obs
            if terminated or truncated:
                ret = 0.0
                for o, label, action, r, g in reversed(running[i]):  # the episode's last states if it must be cut
                    if n == steps:
                        break
                    ret = r + gamma * ret
                    row = Demonstrations(
                        {k: v[None] for k, v in o.items()},
                        np.array([label]),
                        np.array([action]),
                        np.array([ret], np.float32),
                        g[None],
                    )
                    if data is None:
                        data = Demonstrations.empty_like(row, steps)
                    data.write(n, row)
                    n += 1
                running[i] = []
                obs[i] = env.reset()[0]
    return data


def imitation_loss(
    policy,
    obs: dict[str, torch.Tensor],
    labels,
    actions,
    returns,
    geometry,
    head: nn.Module | None = None,
    value_coef: float = 0.1,
) -> torch.Tensor:
    """Imitate the oracle, calibrate the values RL will start from, and (with ``head``) read the geometry.

    Cross-entropy on the oracle's action over the per-action scores, plus a regression on the observed returns:
    of the critic for an actor-critic policy (a PPO that starts with a random critic feeds its warm policy noise
    advantages), of the taken action's Q-value for DQN (so TD learning starts from Q-values in return units).
    ``head`` maps the encoder features to :func:`box_geometry` (an auxiliary task, as UNREAL's: a class label
    says which way to move, the geometry says where the face is, a much denser signal for the encoder).
    ``value_coef`` weighs the return regression: returns are noisy (their squared error starts near 10) and at
    full weight they drown the imitation signal in the shared encoder.
    """
    features, scores, values = policy_forward(policy, obs)
    if values is None:
        values = scores.gather(1, actions[:, None]).squeeze(1)
    loss = F.cross_entropy(scores, labels) + value_coef * F.mse_loss(values, returns)
    known = torch.isfinite(geometry).all(dim=1)  # a tracked face out of view has no geometry
    if head is not None and known.any():
        loss = loss + F.smooth_l1_loss(head(features[known]), geometry[known])
    return loss


class Imitation:
    """The supervised side of the warm start: aggregated demonstrations, the auxiliary geometry head and one Adam
    (fresh: the model's own optimizer state is left for RL), fitting ``policy`` with :func:`imitation_loss`.
    """

    def __init__(
        self,
        policy,
        *,
        capacity: int,
        learning_rate: float = 1e-3,
        batch_size: int = 256,
        geometry: bool = True,
        value_coef: float = 0.1,
        mirror: Mirror | None = None,
        seed: int = 0,
    ) -> None:
        self.policy, self.learning_rate, self.batch_size, self.value_coef = (
            policy,
            learning_rate,
            batch_size,
            value_coef,
        )
        self.rng = np.random.default_rng(seed)
        extractor = policy.q_net.features_extractor if isinstance(policy, DQNPolicy) else policy.pi_features_extractor
        self.head = nn.Linear(extractor.features_dim, GEOMETRY_SIZE).to(policy.device) if geometry else None
        parameters = [*policy.parameters(), *(self.head.parameters() if self.head else [])]
        self.optimizer = torch.optim.Adam(parameters, lr=learning_rate)
        self.capacity = capacity
        self.mirror = mirror  # applied to a random half of every minibatch
        self.data: Demonstrations | None = None  # a ring buffer: the newest ``capacity`` states
        self.added = 0
        self.stats: dict[str, float] = {}  # filled by behaviour_cloning

    def __len__(self) -> int:
        return min(self.added, self.capacity)

    def add(self, data: Demonstrations) -> None:
        """Aggregate ``data``, overwriting the oldest states once ``capacity`` is reached."""
        if self.data is None:
            self.data = Demonstrations.empty_like(data, self.capacity)
        n, start = len(data), self.added
        if n > self.capacity:  # the oldest states would be overwritten at once: write only the newest
            start, data = start + n - self.capacity, Demonstrations(*data.batch(np.arange(n - self.capacity, n)))
        self.data.write(start, data)
        self.added += n

    def _step(self, idx: np.ndarray) -> float:
        obs, *targets = self.data.batch(idx)
        if self.mirror is not None:
            obs, *targets = self.mirror(obs, *targets, rows=self.rng.random(len(idx)) < 0.5)
        targets = [torch.as_tensor(x, device=self.policy.device) for x in targets]
        loss = imitation_loss(self.policy, self.policy.obs_to_tensor(obs)[0], *targets, self.head, self.value_coef)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def fit(self, epochs: int) -> float:
        """``epochs`` shuffled passes over the buffered demonstrations; returns the last minibatch loss."""
        self.policy.set_training_mode(True)
        for _ in range(epochs):
            order = self.rng.permutation(len(self))
            for start in range(0, len(order), self.batch_size):
                loss = self._step(order[start : start + self.batch_size])
        self.policy.set_training_mode(False)
        return loss

    def anchor(self, batches: int, scale: float) -> float:
        """``batches`` random minibatches at ``scale`` x the learning rate: the decaying imitation term of DAPG
        (Rajeswaran et al. 2018) interleaved with RL updates, which keeps RL from unlearning the warm start.
        """
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate * scale
        self.policy.set_training_mode(True)
        losses = [self._step(self.rng.integers(len(self), size=self.batch_size)) for _ in range(batches)]
        self.policy.set_training_mode(False)
        return float(np.mean(losses))

    def agreement(self, data: Demonstrations) -> float:
        """Share of ``data``'s states where the policy's best-scored action is the oracle's."""
        hits = 0
        with torch.no_grad():
            for start in range(0, len(data), self.batch_size):
                obs, labels, *_ = data.batch(np.arange(start, min(start + self.batch_size, len(data))))
                logits = action_logits(self.policy, self.policy.obs_to_tensor(obs)[0])
                hits += int((logits.argmax(dim=1).cpu().numpy() == labels).sum())
        return hits / len(data)


def behaviour_cloning(
    model: BaseAlgorithm,
    make_env: Callable[[], gym.Env],
    steps: int,
    *,
    rounds: int = 2,
    epochs: int = 4,
    n_envs: int = 8,
    capacity: int | None = None,
    mirror: bool = False,
    seed: int = 0,
    **options,
) -> Imitation:
    """Train ``model``'s policy to pick the greedy oracle's action, before any RL.

    ``steps`` labelled states are collected over ``rounds`` rounds by ``n_envs`` envs: in the first the oracle
    drives, in the others the current learner does (DAgger) and the data are aggregated, keeping the newest
    ``capacity`` states (all by default); after each round the network is fitted for ``epochs`` passes over them
    (``options`` go to :class:`Imitation`), with ``mirror`` on a random half of each minibatch mirrored
    (:class:`Mirror`). Many rounds with a bounded capacity stream fresh images through the
    network in bounded memory: for the same number of gradient samples, more distinct images clone better
    (docs/experiments.md, 3.3).
    A DQN's target network is synchronised afterwards.
    Returns the :class:`Imitation`, whose ``stats`` hold the agreement with the oracle on the last round's states
    before and after fitting, the oracle's most frequent action share (the floor) and the last loss.
    """
    if not isinstance(model.action_space, gym.spaces.Discrete):
        raise TypeError(f"behaviour cloning needs a Discrete action space, got {model.action_space}")
    if steps < rounds or rounds < 1:
        raise ValueError(f"behaviour cloning needs rounds >= 1 and steps >= rounds, got {steps} and {rounds}")
    if capacity is not None and capacity < 1:
        raise ValueError(f"behaviour cloning needs capacity >= 1 (the states kept) or None (all), got {capacity}")
    envs = [make_env() for _ in range(n_envs)]
    imitation = Imitation(
        model.policy,
        capacity=min(capacity or steps, steps),
        mirror=Mirror.of(envs[0]) if mirror else None,
        seed=seed,
        **options,
    )
    for r in range(rounds):
        new = collect_demonstrations(model.policy, envs, steps // rounds, r > 0, seed + r * n_envs, model.gamma)
        before = imitation.agreement(new)
        imitation.add(new)
        loss = imitation.fit(epochs)
    if isinstance(model.policy, DQNPolicy):
        model.policy.q_net_target.load_state_dict(model.policy.q_net.state_dict())
    for env in envs:
        env.close()
    imitation.stats = {
        "agreement_before": before,
        "agreement_after": imitation.agreement(new),
        "majority": float(np.bincount(imitation.data.labels[: len(imitation)]).max() / len(imitation)),
        "loss": loss,
    }
    return imitation


def freeze_encoders(policy) -> None:
    """Stop training ``policy``'s feature extractors: their parameters get no gradients, which the optimizers
    (RL's and the imitation anchor's) skip, and no backward pass runs through them.
    """
    for module in policy.modules():
        if isinstance(module, BaseFeaturesExtractor):
            module.requires_grad_(False)
