"""facebox: RL environments, agents and perception backbones for face localization and tracking.

Importing the package registers every environment with Gymnasium (Gymnasium 1.4 no longer reads entry
points), so ``gym.make("facebox:facebox/FaceLocalization-v0")`` works in a fresh process.
"""

from facebox.envs.registration import register_envs

__all__ = ["register_envs", "__version__"]
__version__ = "0.1.0"

register_envs()
