"""Commands run as a user runs them (subprocesses), saying the right thing (issue 12)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.terminal import CLI

ENTRY = Path(sys.executable).parent / "edgewarden"  # the venv's console script


def cli(*args: str, timeout: float = 60, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          **kw)  # type: ignore[call-overload]


def one_line_error(out: subprocess.CompletedProcess[str], command: str) -> str:
    assert out.returncode != 0, out.stdout
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"edgewarden {command}: ")
    return lines[0]


def test_version_and_where_to_start() -> None:
    version = cli("--version")
    assert version.returncode == 0
    assert re.fullmatch(r"edgewarden \d+\.\d+\.\d+\S*\n", version.stdout)
    helped = cli("--help")
    assert helped.returncode == 0
    start = helped.stdout[helped.stdout.index("where to start"):]
    for command in ("edgewarden demo", "edgewarden init", "edgewarden run", "edgewarden tui"):
        assert command in start


def test_an_empty_config_is_refused_at_load(tmp_path: Path) -> None:
    empty = tmp_path / "config.toml"
    empty.write_text("\n  \n")
    for command in ("run", "doctor", "status"):
        line = one_line_error(cli(command, "--config", str(empty)), command)
        assert f"{empty}: the file is empty" in line
    commented = tmp_path / "skeleton.toml"
    commented.write_text("# [device]\n# name = \"edgewarden\"\n")  # what install writes
    assert "the file is empty" not in cli("doctor", "--config", str(commented)).stderr


def test_monitor_on_a_port_that_does_not_exist(tmp_path: Path) -> None:
    key = tmp_path / "node.key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    for extra in ([], ["--seconds", "1"]):
        line = one_line_error(
            cli("monitor", "/dev/ttyNOPE", "--key-file", str(key), *extra), "monitor")
        assert "/dev/ttyNOPE: no such serial port" in line
    for extra in ([], ["--seconds", "1"]):  # without --seconds too: no endless retrying
        not_a_tty = one_line_error(
            cli("monitor", str(key), "--key-file", str(key), *extra, timeout=30), "monitor")
        assert f"{key}: could not be opened" in not_a_tty


class _Node:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([*CLI, "simulate-node", "--pty", "--pairing", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.port = self.proc.stdout.readline().strip()
        self.said = self.proc.stderr.readline()  # "node <UID> on /dev/pts/N in pairing mode"
        assert self.port, self.said

    @property
    def uid(self) -> str:
        return self.said.split()[1]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()


@pytest.fixture
def nodes() -> Iterator[list[_Node]]:
    started: list[_Node] = []
    yield started
    for n in started:
        if n.proc.poll() is None:
            n.stop()


def test_two_simulated_nodes_without_uid_pair_side_by_side(tmp_path: Path,
                                                           nodes: list[_Node]) -> None:
    keys = tmp_path / "keys"
    for name in ("gate", "shed"):
        node = _Node("--key-file", str(tmp_path / f"{name}.key"))
        nodes.append(node)
        paired = cli("pair", node.port, "--name", name, "--keys-dir", str(keys),
                     "--timeout", "20")
        assert paired.returncode == 0, paired.stderr
        assert f"paired node {node.uid} as '{name}'" in paired.stdout
    assert nodes[0].uid != nodes[1].uid
    registry = json.dumps(json.loads((keys / "registry.json").read_text()))
    assert nodes[0].uid in registry and nodes[1].uid in registry
    # the same node (its key file is its flash) keeps its uid after a restart
    nodes[0].stop()
    again = _Node("--key-file", str(tmp_path / "gate.key"))
    nodes.append(again)
    assert again.uid == nodes[0].uid
    # and without a key file every node is its own
    assert _started(nodes).uid != _started(nodes).uid


def _started(nodes: list[_Node]) -> _Node:
    node = _Node()
    nodes.append(node)
    return node


def test_install_from_a_venv_runs_that_venv(tmp_path: Path) -> None:
    """`.venv/bin/edgewarden install`, typed from the checkout, as the issue's user did."""
    if not ENTRY.is_file():
        pytest.skip(f"no console script at {ENTRY}")
    cwd = ENTRY.parent.parent.parent
    relative = os.path.relpath(ENTRY, cwd)
    out = subprocess.run([relative, "install", "--destdir", str(tmp_path / "root")],
                         cwd=cwd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    unit = (tmp_path / "root/etc/systemd/system/edgewarden.service").read_text()
    assert f"ExecStart={ENTRY.absolute()} run " in unit
    assert "/usr/bin/edgewarden" not in unit
    assert f"the units run {ENTRY.absolute()}" in out.stdout


def test_install_warns_of_an_executable_that_does_not_exist(tmp_path: Path) -> None:
    out = cli("install", "--destdir", str(tmp_path / "root"), "--exec", "/opt/nope/edgewarden")
    assert out.returncode == 0
    assert "/opt/nope/edgewarden does not exist" in " ".join(out.stderr.split())
