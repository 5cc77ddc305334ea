from __future__ import annotations

import subprocess
import sys

from swapwatch.detector import cli


def test_version_prints_distribution_version(capsys) -> None:
    try:
        cli.main(["--version"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert capsys.readouterr().out.startswith("swapwatch ")


def test_help_lists_every_registered_subcommand() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "swapwatch.detector.cli", "--help"],
        capture_output=True, text=True, check=True,
    ).stdout
    for name in cli.COMMANDS:
        assert name in out


def test_unknown_subcommand_is_an_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "swapwatch.detector.cli", "no-such-command"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr
