"""Learning checks (minutes each; ``make test-slow``): the default agent from hyperparams/*.yml really learns."""

from __future__ import annotations

import pytest
import yaml

pytest.importorskip("stable_baselines3")

from facebox.agents.evaluate import make_eval_env, model_policy  # noqa: E402
from facebox.agents.train import held_out, train  # noqa: E402
from facebox.benchmarks.localize import POLICIES, run_episodes, summarize  # noqa: E402

pytestmark = pytest.mark.slow


def _sweep(env, policy):
    episodes, _, speed = run_episodes(env, policy, 200)
    return episodes, speed


@pytest.fixture(scope="module")
def default_agent(tmp_path_factory):
    """The default agent as ``make demo`` trains it (seed 0), evaluated on images of a seed it never saw."""
    model, run_dir = train(runs_dir=tmp_path_factory.mktemp("runs"), seed=0, progress_bar=False, verbose=0)
    config = yaml.safe_load((run_dir / "config.yml").read_text())
    env = make_eval_env(config, data=held_out(config["eval"]["data"], offset=1))
    agent = summarize("agent", *_sweep(env, model_policy(model)))
    rand = summarize("random", *_sweep(env, POLICIES["random"](0)))
    return agent, rand


def test_default_agent_beats_random_by_a_wide_margin(default_agent):
    agent, rand = default_agent
    assert agent["success@0.5"] >= rand["success@0.5"] + 0.3
    assert agent["mean_iou"] >= rand["mean_iou"] + 0.2


@pytest.mark.xfail(
    reason="issue 4 target not reached yet: the default agent measures success@0.5 0.60, median 21 steps after "
    "~9 minutes (held-out seed 2); the perception has to be learned from scratch within the budget",
    strict=False,
)
def test_default_agent_meets_the_target(default_agent):
    agent, _ = default_agent
    assert agent["success@0.5"] >= 0.9
    assert agent["median_steps"] <= 15
