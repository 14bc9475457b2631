"""Tables (Markdown + CSV) and animations of frames of any size."""

from __future__ import annotations

import csv

import imageio.v3 as iio
import numpy as np
import pytest

from facebox.benchmarks.report import Table, progress, write_animation, write_table


def test_a_table_is_written_as_csv_and_markdown_with_three_decimals(tmp_path):
    rows = [
        {"policy": "agent", "success@0.5": 0.74321, "median_steps": 12.0},
        {"policy": "random", "success@0.5": 0.016, "median_steps": 6.0},
    ]
    markdown = write_table(rows, tmp_path / "out", "demo")
    assert markdown.splitlines()[2] == "| agent | 0.743 | 12.0 |"
    assert (tmp_path / "out" / "demo.md").read_text() == markdown
    with open(tmp_path / "out" / "demo.csv") as f:
        assert [r["success@0.5"] for r in csv.DictReader(f)] == ["0.74321", "0.016"]  # full precision for scripts


def test_frames_of_different_sizes_share_one_canvas(tmp_path):
    frames = [np.full((60, 80, 3), 255, np.uint8), np.zeros((90, 60, 3), np.uint8)]
    path = write_animation(frames, tmp_path / "a.gif", size=40)
    out = iio.imread(path)
    assert out.shape[0] == 2 and out.shape[2] == 40 and out.shape[1] % 2 == 0
    with pytest.raises(ValueError, match="no frames"):
        write_animation([], tmp_path / "b.gif")
    with pytest.raises(ValueError, match=r"\.gif or \.mp4"):
        write_animation(frames, tmp_path / "c.avi")


def test_a_tables_rows_reach_tensorboard_as_they_are_added(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    table = Table(tmp_path, "results", ["data", "policy"])
    table.add({"data": "wider:/x/y", "policy": "oracle", "success@0.5": 0.5, "triggered": True})
    events = EventAccumulator(str(tmp_path / "tensorboard")).Reload()  # before the table is written
    assert events.Tags()["scalars"] == ["results/wider_x_y/oracle/success@0.5"]  # bools are not metrics
    table.add({"data": "synthetic", "policy": "random", "success@0.5": 0.0, "triggered": False})
    assert table.write().count("\n") == 4 and (tmp_path / "results.csv").is_file()


def test_a_sweeps_progress_bar_passes_every_episode_through(capsys):
    assert list(progress("eval")(range(5))) == [0, 1, 2, 3, 4]
    assert "eval" in capsys.readouterr().err
