"""Register every facebox environment with Gymnasium, idempotently, on ``import facebox``."""

from __future__ import annotations

import gymnasium as gym

__all__ = ["ENV_SPECS", "register_envs"]

# id -> (entry point, registration kwargs). Variants are kwargs here, not subclasses.
ENV_SPECS: dict[str, tuple[str, dict]] = {
    "facebox/FaceLocalization-v0": ("facebox.envs.localization:FaceLocalizationEnv", {}),
    "facebox/FaceLocalizationContinuous-v0": (
        "facebox.envs.localization:FaceLocalizationEnv",
        {"base_config": {"action": {"type": "continuous"}}},
    ),
}


def register_envs() -> None:
    for env_id, (entry_point, kwargs) in ENV_SPECS.items():
        if env_id in gym.registry:
            continue
        gym.register(id=env_id, entry_point=entry_point, kwargs=kwargs, max_episode_steps=40)
