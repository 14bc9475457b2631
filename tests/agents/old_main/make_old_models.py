"""Run with the OLD main (38cc920): save tiny PPO and DQN runs plus their predictions on fixed observations."""

import shutil
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from facebox.agents.train import train

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
ENC = {"encoder": "cnn", "encoder_kwargs": {"channels": [4, 8, 8], "fc": 16, "stride": 1}, "net_arch": []}
TINY = {
    "ppo": {"n_timesteps": 128, "n_envs": 1, "n_steps": 64, "batch_size": 32, "n_epochs": 1},
    "dqn": {"n_timesteps": 200, "n_envs": 1, "learning_starts": 50, "buffer_size": 500, "train_freq": 4},
}
env = gym.make("facebox/FaceLocalization-v0", config={"observation": {"size": 32}})
obs = [env.reset(seed=100 + i)[0] for i in range(16)]
obs = {k: np.stack([o[k] for o in obs]) for k in obs[0]}
for algo in ("ppo", "dqn"):
    model, run_dir = train(
        algo,
        hyperparams={**TINY[algo], "policy_kwargs": ENC, "callback": []},
        env_kwargs={"config": {"observation": {"size": 32}}},
        runs_dir=out / "tmp",
        eval_freq=10**6,
        eval_episodes=2,
        checkpoint_freq=10**6,
        progress_bar=False,
        verbose=0,
        command="tests/agents/old_main/make_old_models.py (main 38cc920)",
    )
    dest = out / algo
    dest.mkdir(exist_ok=True)
    shutil.copy(run_dir / "final_model.zip", dest / "final_model.zip")
    shutil.copy(run_dir / "config.yml", dest / "config.yml")
    with torch.no_grad():
        t = model.policy.obs_to_tensor(obs)[0]
        scores = (model.policy.get_distribution(t).distribution.logits if algo == "ppo" else model.q_net(t)).numpy()
    actions = model.predict(obs, deterministic=True)[0]
    np.savez_compressed(dest / "predictions.npz", actions=actions, scores=scores, **obs)
shutil.rmtree(out / "tmp")
print("ok", sorted(p.name for p in out.rglob("*")))
