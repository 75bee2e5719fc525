"""`edgewarden tui`: arguments and where it looks for the socket."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from controller.cli import build_parser, main
from controller.cli.tui import socket_path


def test_socket_comes_from_the_flag_or_the_config(tmp_path: Path) -> None:
    args = build_parser().parse_args(["tui", "--socket", "/tmp/x.sock"])
    assert socket_path(args) == Path("/tmp/x.sock")
    cfg = tmp_path / "c.toml"
    cfg.write_text('[device]\nruntime_dir = "/run/ew"\n[control]\nsocket_name = "c.sock"\n')
    args = build_parser().parse_args(["tui", "--config", str(cfg)])
    assert socket_path(args) == Path("/run/ew/c.sock")
    assert socket_path(argparse.Namespace(socket=None, config=None)) == Path(
        "/run/edgewarden/control.sock")


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[control]\nsocket_name = 5\n")
    assert main(["tui", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("edgewarden tui: ") and "c.toml:2" in err and "\n" not in err


def test_idle_lock_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tui", "--socket", "/tmp/x.sock", "--idle-lock", "0"]) == 2
    assert "--idle-lock" in capsys.readouterr().err
