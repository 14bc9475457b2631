"""SB3 policy classes that take a facebox encoder by name, the registry YAML ``policy:`` entries resolve in, and a
trained model as a harness policy.

Naming the encoder (``policy_kwargs: {encoder: cnn, encoder_kwargs: {...}}``) keeps ``policy_kwargs`` plain data,
so YAML files need no ``eval`` and saved models record which encoder they use. The RL Zoo imports a YAML's dotted
``policy`` name itself, so these classes live at a stable dotted path.
"""

from __future__ import annotations

from collections.abc import Mapping

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import MultiInputActorCriticPolicy
from stable_baselines3.dqn.policies import MultiInputPolicy as DQNMultiInputPolicy

from facebox.agents.encoders import encoder_policy_kwargs
from facebox.envs.rollout import Policy

__all__ = ["DQNEncoderPolicy", "PPOEncoderPolicy", "POLICIES", "model_policy"]


class _EncoderPolicy:
    """Mixin turning ``encoder``/``encoder_kwargs`` policy arguments into SB3's features-extractor arguments."""

    def __init__(self, *args, encoder: str = "cnn", encoder_kwargs: Mapping | None = None, **kwargs) -> None:
        kwargs.update(encoder_policy_kwargs(encoder, **dict(encoder_kwargs or {})))
        super().__init__(*args, **kwargs)


class DQNEncoderPolicy(_EncoderPolicy, DQNMultiInputPolicy):
    """DQN ``MultiInputPolicy`` with a facebox encoder."""


class PPOEncoderPolicy(_EncoderPolicy, MultiInputActorCriticPolicy):
    """PPO ``MultiInputPolicy`` with a facebox encoder."""


# Names usable as `policy:` in the YAML files: SB3's own, and ours by dotted path (the names the RL Zoo imports),
# including the paths of earlier releases that old run configs record.
POLICIES: dict[str, type | str] = {
    "MultiInputPolicy": "MultiInputPolicy",
    **{
        f"facebox.agents.{module}.{cls.__name__}": cls
        for module in ("policies", "train")
        for cls in (DQNEncoderPolicy, PPOEncoderPolicy)
    },
}


def model_policy(model: BaseAlgorithm) -> Policy:
    """The model's deterministic action (for DQN: greedy, no ε), called as the harness calls every policy."""
    return lambda env, obs: model.predict(obs, deterministic=True)[0]
