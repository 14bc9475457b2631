"""The ``facebox`` console script."""

from __future__ import annotations

import subprocess


def test_cli_lists_commands_and_rejects_unknown_ones(capsys):
    from facebox.benchmarks import cli

    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("train", "evaluate", "demo"))
    assert cli.main(["trian"]) == 2
    assert "unknown command 'trian'" in capsys.readouterr().err


def test_a_command_line_pastes_into_a_shell_that_has_no_facebox_on_its_path(tmp_path):
    from facebox.benchmarks import cli

    command = cli.command_line("evaluate", ["--help"])
    done = subprocess.run(
        command, shell=True, cwd=tmp_path, capture_output=True, text=True, env={"PATH": "/nonexistent"}
    )
    assert done.returncode == 0, done.stderr
    assert "--model" in done.stdout  # evaluate's own help, through the facebox command


def test_an_interrupted_demo_says_how_to_resume_and_exits_with_the_signal(monkeypatch, capsys):
    import signal
    from pathlib import Path

    from facebox.benchmarks import cli, demo
    from facebox.interrupts import TrainingInterrupted

    def interrupted(argv):
        raise TrainingInterrupted(
            signal.SIGTERM, Path("runs/r/checkpoints/model_64_steps.zip"), "python -m x --resume y"
        )

    monkeypatch.setattr(demo, "main", interrupted)
    assert cli.main(["demo"]) == 128 + signal.SIGTERM
    assert "SIGTERM: checkpoint runs/r/checkpoints/model_64_steps.zip; resume with:\n  python -m x --resume y" in (
        capsys.readouterr().err
    )
