"""Imitation of the greedy oracle: the loss and the behaviour-cloning trainer (the demonstrations and their mirror
images are in :mod:`facebox.agents.demonstrations`).

Uniform random actions rarely reach a face, so early RL sees almost only failures. ADNet's first stage (Yun et
al. 2017) trains the policy network with cross-entropy to reproduce an expert's actions before RL;
:func:`behaviour_cloning` does that with the greedy IoU oracle as the expert, optionally with DAgger rounds in
which the learner drives and the oracle only labels, so the network also sees the states its own mistakes lead
to. The callback that runs it at the start of ``learn`` is :class:`facebox.agents.callbacks.BehaviourCloning`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.dqn.policies import DQNPolicy
from torch import nn
from torch.nn import functional as F

from facebox.agents.demonstrations import (
    GEOMETRY_SIZE,
    Demonstrations,
    Mirror,
    box_geometry,
    collect_demonstrations,
)
from facebox.interrupts import StopRequested
from facebox.perception.checkpoints import Normalized

__all__ = [
    "Demonstrations",  # the demonstrations' names are re-exported: earlier scripts import them from here
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

    It also keeps where the warm start is (``round``, ``phase``), so that an interrupted warm start resumes from the
    start of the phase it was in (:meth:`run`, :meth:`state_dict`) and ends as an uninterrupted one would.
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
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        extractor = policy.q_net.features_extractor if isinstance(policy, DQNPolicy) else policy.pi_features_extractor
        self.head = nn.Linear(extractor.features_dim, GEOMETRY_SIZE).to(policy.device) if geometry else None
        parameters = [*policy.parameters(), *(self.head.parameters() if self.head else [])]
        self.optimizer = torch.optim.Adam(parameters, lr=learning_rate)
        self.capacity = capacity
        self.mirror = mirror  # applied to a random half of every minibatch
        self.data: Demonstrations | None = None  # a ring buffer: the newest ``capacity`` states
        self.added = 0
        self.round, self.phase = 0, "collect"  # the warm start's position (:meth:`run`)
        self.results: dict[str, float] = {}  # the last round's agreement before fitting and last loss
        self.stats: dict[str, float] = {}  # filled by :meth:`run`

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

    def newest(self, n: int) -> Demonstrations:
        """The ``n`` most recently added states still buffered (all of the last round's, unless it overflowed)."""
        n = min(n, len(self))
        return Demonstrations(*self.data.batch(np.arange(self.added - n, self.added) % self.capacity))

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

    def fit(self, epochs: int, progress: Callable[[int], None] | None = None) -> float:
        """``epochs`` shuffled passes over the buffered demonstrations; returns (and keeps in ``results``) the last
        minibatch loss. ``progress(samples)`` is called after every minibatch with the samples fitted so far."""
        self.policy.set_training_mode(True)
        done = 0
        for _ in range(epochs):
            order = self.rng.permutation(len(self))
            for start in range(0, len(order), self.batch_size):
                loss = self.results["loss"] = self._step(order[start : start + self.batch_size])
                done += len(order[start : start + self.batch_size])
                if progress is not None:
                    progress(done)
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

    def run(self, envs: list[gym.Env], rounds: int, per_round: int, epochs: int, gamma: float, progress=None) -> None:
        """The warm start's rounds from where it stands: collect ``per_round`` states (the learner drives after
        the first round), then fit ``epochs`` passes; ``progress(self, done, total)`` follows each phase.

        A :class:`StopRequested` raised by ``progress`` puts back the policy, head, optimizer and random state of
        the phase's start before it propagates: the buffer is unchanged until a collection ends, so the state is
        the one :meth:`state_dict` must save to resume the phase from its start.
        """
        if self.stats:  # finished before a checkpoint: nothing left to run
            return
        while self.round < rounds:
            snapshot = self.state_dict(data=False, policy=True)
            total = per_round if self.phase == "collect" else epochs * len(self)
            tick = None if progress is None else lambda n, total=total: progress(self, n, total)
            try:
                if self.phase == "collect":
                    seed = self.seed + self.round * len(envs)
                    new = collect_demonstrations(self.policy, envs, per_round, self.round > 0, seed, gamma, tick)
                    self.results["agreement_before"] = self.agreement(new)
                    self.add(new)
                    self.phase = "fit"
                else:
                    self.fit(epochs, tick)
                    self.round, self.phase = self.round + 1, "collect"
            except StopRequested:
                self.load_state_dict(snapshot)
                raise
        last = self.newest(per_round)
        self.stats = {
            "agreement_before": self.results["agreement_before"],
            "agreement_after": self.agreement(last),
            "majority": float(np.bincount(self.data.labels[: len(self)]).max() / len(self)),
            "loss": self.results["loss"],
        }

    def state_dict(self, data: bool = True, policy: bool = False) -> dict[str, Any]:
        """Everything :meth:`run` and :meth:`anchor` go on from: the position, the head, the optimizer, the random
        state, with ``data`` the buffered states and with ``policy`` the policy's weights (a checkpoint has those in
        the model's zip)."""
        state = {
            "round": self.round,
            "phase": self.phase,
            "added": self.added,
            "results": dict(self.results),
            "stats": dict(self.stats),
            "rng": json.dumps(self.rng.bit_generator.state),
            "head": None if self.head is None else {k: v.clone() for k, v in self.head.state_dict().items()},
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
        }
        if policy:
            state["policy"] = {k: v.clone() for k, v in self.policy.state_dict().items()}
        if data and self.data is not None:
            state["data"] = {k: torch.from_numpy(v) for k, v in self.data.arrays().items()}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.round, self.phase, self.added = state["round"], state["phase"], state["added"]
        self.results, self.stats = dict(state["results"]), dict(state["stats"])
        self.rng.bit_generator.state = json.loads(state["rng"])
        if "policy" in state:
            self.policy.load_state_dict(state["policy"])
        if self.head is not None:
            self.head.load_state_dict(state["head"])
        self.optimizer.load_state_dict(state["optimizer"])
        if "data" in state:
            self.data = Demonstrations.from_arrays({k: v.numpy() for k, v in state["data"].items()})


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
    state: dict[str, Any] | None = None,
    progress: Callable[[Imitation, int, int], None] | None = None,
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
    A DQN's target network is synchronised afterwards. ``state`` (:meth:`Imitation.state_dict`) continues an
    interrupted warm start; ``progress`` is :meth:`Imitation.run`'s.
    Returns the :class:`Imitation`, whose ``stats`` hold the agreement with the oracle on the last round's states
    before and after fitting, the oracle's most frequent action share (the floor) and the last loss.
    """
    if not isinstance(model.action_space, gym.spaces.Discrete):
        raise TypeError(f"behaviour cloning needs a Discrete action space, got {model.action_space}")
    if steps < rounds or rounds < 1:
        raise ValueError(f"behaviour cloning needs rounds >= 1 and steps >= rounds, got {steps} and {rounds}")
    if capacity is not None and capacity < 1:
        raise ValueError(f"behaviour cloning needs capacity >= 1 (the states kept) or None (all), got {capacity}")
    done = state is not None and bool(state["stats"])  # resumed after the warm start: the anchor needs it back
    envs = [make_env() for _ in range(1 if done else n_envs)]
    try:
        imitation = Imitation(
            model.policy,
            capacity=min(capacity or steps, steps),
            mirror=Mirror.of(envs[0]) if mirror else None,
            seed=seed,
            **options,
        )
        if state is not None:
            imitation.load_state_dict(state)
        imitation.run(envs, rounds, steps // rounds, epochs, model.gamma, progress)
    finally:
        for env in envs:
            env.close()
    if isinstance(model.policy, DQNPolicy) and not done:
        model.policy.q_net_target.load_state_dict(model.policy.q_net.state_dict())
    return imitation


def freeze_encoders(policy) -> None:
    """Stop training ``policy``'s feature extractors: their parameters get no gradients, which the optimizers
    (RL's and the imitation anchor's) skip, and no backward pass runs through them. A pretrained backbone is also
    marked frozen, which keeps it in eval mode, so its BatchNorm statistics stop drifting too.
    """
    for module in policy.modules():
        if isinstance(module, BaseFeaturesExtractor):
            module.requires_grad_(False)
        if isinstance(module, Normalized):
            module.frozen = True
            module.eval()
