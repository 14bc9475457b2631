"""The env-speed benchmark measures every row it prints, in one run, against ALE Breakout-v5."""

from __future__ import annotations

import pytest

pytest.importorskip("ale_py")
pytest.importorskip("stable_baselines3")

from facebox.benchmarks import env_speed  # noqa: E402


def test_prints_single_vector_and_policy_rates(capsys):
    argv = ["--seconds", "0.05", "--rounds", "1", "--sizes", "1", "2", "--vector", "batched", "sync", "--episodes", "3"]
    result = env_speed.main(argv)
    expected = {"ALE/Breakout-v5", "single, fresh", "single, repeated", "greedy oracle episodes/s"}
    expected |= {f"{kind} N={n}, {data}" for kind in ("batched", "sync") for n in (1, 2) for data in env_speed.DATA}
    assert set(result) == expected and all(rate > 0 for rate in result.values())
    out = capsys.readouterr().out
    assert "single env, fresh:" in out and "x ALE Breakout-v5 (goal >= 3x)" in out
    assert "batched N=32" not in out  # no ratio claimed for a size that was not measured
