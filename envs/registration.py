"""Register every facebox environment with Gymnasium, idempotently, on ``import facebox``."""

from __future__ import annotations

import gymnasium as gym

__all__ = ["ENV_SPECS", "register_envs"]

# id -> keyword arguments of ``gym.register``. Variants are ``kwargs`` here, not subclasses. The tracking env
# has no time limit: it ends itself after at most ``frames x max_actions`` steps, and an evaluation episode
# spans a whole sequence.
ENV_SPECS: dict[str, dict] = {
    "facebox/FaceLocalization-v0": {
        "entry_point": "facebox.envs.localization:FaceLocalizationEnv",
        "vector_entry_point": "facebox.envs.batched:BatchedLocalizationEnv",
        "max_episode_steps": 40,
    },
    "facebox/FaceLocalizationContinuous-v0": {
        "entry_point": "facebox.envs.localization:FaceLocalizationEnv",
        "kwargs": {"base_config": {"action": {"type": "continuous"}}},
        "max_episode_steps": 40,
    },
    "facebox/FaceTracking-v0": {"entry_point": "facebox.envs.tracking:FaceTrackingEnv"},
}


def register_envs() -> None:
    for env_id, spec in ENV_SPECS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, **spec)
