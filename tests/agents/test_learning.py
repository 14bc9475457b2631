"""Learning checks (minutes each; ``make test-slow``): the agents from hyperparams/*.yml really learn."""

from __future__ import annotations

import pytest

pytest.importorskip("stable_baselines3")

from facebox.agents.models import make_eval_env, model_policy  # noqa: E402
from facebox.agents.train import DEFAULT_ALGO, train  # noqa: E402
from facebox.envs.data.sources import held_out  # noqa: E402
from facebox.envs.policies import POLICIES  # noqa: E402
from facebox.envs.rollout import run_episodes, summarize  # noqa: E402

pytestmark = pytest.mark.slow


def _trained(algo: str, runs_dir) -> tuple[dict, dict]:
    """The YAML agent (seed 0) and the random policy on 1000 images of a seed neither training nor its periodic
    evaluation saw.
    """
    model, _, config = train(algo=algo, runs_dir=runs_dir, seed=0, progress_bar=False, verbose=0)
    env = make_eval_env(config, data=held_out(config["eval"]["data"], offset=1))
    rows = []
    for name, policy in (("agent", model_policy(model)), ("random", POLICIES["random"](0))):
        episodes, _, speed = run_episodes(env, policy, 1000)
        rows.append(summarize(name, episodes, speed))
    return rows[0], rows[1]


@pytest.fixture(scope="module")
def default_agent(tmp_path_factory):
    """The default agent as ``make demo`` trains it (PPO)."""
    return _trained(DEFAULT_ALGO, tmp_path_factory.mktemp("runs"))


def test_default_agent_beats_random_by_a_wide_margin(default_agent):
    agent, rand = default_agent  # margins well inside the measured gap (docs/experiments.md, "1.1 The current default")
    assert agent["success@0.5"] >= rand["success@0.5"] + 0.6
    assert agent["mean_iou"] >= rand["mean_iou"] + 0.2
    assert agent["median_steps"] <= 15  # it triggers: PPO's failure mode is never triggering (40 steps)


def test_guided_dqn_agent_beats_random_by_a_wide_margin(tmp_path):
    agent, rand = _trained("dqn", tmp_path)  # margins well inside the measured gap (docs/experiments.md, "7.1")
    assert agent["success@0.5"] >= rand["success@0.5"] + 0.6
    assert agent["mean_iou"] >= rand["mean_iou"] + 0.2


@pytest.mark.xfail(
    reason="issue 4 target not reached: the default agent's success is bounded by the warm start's gradient steps; "
    'small faces seen from the whole image are the ones missed (docs/experiments.md, "2. What bounds the default" '
    'and "9. Where the agent fails")',
    strict=False,
)
def test_default_agent_meets_the_target(default_agent):
    agent, _ = default_agent
    assert agent["success@0.5"] >= 0.9
    assert agent["median_steps"] <= 15
