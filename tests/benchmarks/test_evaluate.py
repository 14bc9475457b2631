"""``facebox evaluate``: metrics of a trained run on held-out images, and its animation."""

from __future__ import annotations

import pytest
import yaml

pytest.importorskip("stable_baselines3")

from tiny_agents import tiny_train  # noqa: E402

from facebox.benchmarks import evaluate  # noqa: E402


def test_evaluate_prints_metrics_and_writes_a_gif(tmp_path, capsys):
    _, run_dir, _ = tiny_train(tmp_path)
    out = tmp_path / "eval"
    summary = evaluate.main(
        ["--model", str(run_dir / "final_model.zip"), "--episodes", "3", "--record", "1", "--out", str(out)]
    )
    printed = capsys.readouterr().out
    for key in ("success@0.5", "success@0.7", "mean_iou", "median_steps"):
        assert key in printed
        assert 0 <= summary[key] <= 40
    assert summary["episodes"] == 3
    assert (out / "episodes.gif").stat().st_size > 0
    assert yaml.safe_load((out / "metrics.yml").read_text())["episodes"] == 3
