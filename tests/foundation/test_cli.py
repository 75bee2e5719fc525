"""Every command answers --help, and the top level lists them all."""

from __future__ import annotations

import subprocess
import sys

import pytest

from controller.cli import COMMAND_MODULES, build_parser


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_every_command_has_help(module: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    name = module.replace("_", "-")
    with pytest.raises(SystemExit) as info:
        parser.parse_args([name, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert f"edgewarden {name}" in out


def test_top_level_help_lists_commands() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "controller", "--help"], capture_output=True, text=True, check=True
    )
    for module in COMMAND_MODULES:
        assert module.replace("_", "-") in proc.stdout


def test_unknown_command_exits_non_zero() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "controller", "frobnicate"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr
