"""The ``facebox`` console script."""

from __future__ import annotations


def test_cli_lists_commands_and_rejects_unknown_ones(capsys):
    from facebox.benchmarks import cli

    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("train", "evaluate", "demo"))
    assert cli.main(["trian"]) == 2
    assert "unknown command 'trian'" in capsys.readouterr().err
