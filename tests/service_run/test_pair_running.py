"""Pairing while `edgewarden run` runs: the real service, simulated nodes on ptys, the TUI
under Pilot for the Pair and Rotate key dialogs."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from controller.control.client import ControlClient, ServiceUnavailable
from controller.sensors.keystore import KeyStore
from controller.simulation.fleet import SimulatedFleet, start_paired_nodes
from controller.simulation.node import PtyNode, SimNodeOptions
from firmware_bridge.signing import KEY_LEN, SecretKey
from tests.prepared_store import initialised_copy
from tests.tui.test_flows import plain, until
from tui.app import EdgewardenApp

from .conftest import PASSPHRASE, close_connection


@dataclass
class Site:
    root: Path
    fleet: SimulatedFleet
    keys: KeyStore
    newcomer: PtyNode
    newcomer_uid: str
    proc: subprocess.Popen[bytes]

    @property
    def socket_path(self) -> Path:
        return self.root / "run" / "control.sock"

    def status(self) -> dict[str, Any]:
        try:
            with ControlClient(self.socket_path) as c:
                return dict(c.call("status"))
        except (OSError, ServiceUnavailable):
            return {}

    def node(self, name_or_uid: str) -> dict[str, Any] | None:
        return next((n for n in self.status().get("nodes", [])
                     if name_or_uid in (n["name"], n["uid"])), None)


def _wait(pred, timeout: float = 30.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _site(root: Path, newcomer_key: bytes | None, pairing: bool) -> Site:
    """One paired node, plus a configured node `gate` the key store does not know yet."""
    initialised_copy(root / "data", PASSPHRASE)
    fleet = start_paired_nodes(1, root / "nodes", rate_hz=4.0)
    uid = secrets.token_bytes(8).hex().upper()
    gate_dir = root / "gate"
    gate_dir.mkdir(mode=0o700)
    if newcomer_key is not None:
        (gate_dir / "node.key").write_bytes(newcomer_key)
    newcomer = PtyNode(SimNodeOptions(uid=uid, rate_hz=4.0, key_file=gate_dir / "node.key",
                                      pairing=pairing, link=gate_dir / "tty")).start()
    cfg = root / "config.toml"
    cfg.write_text(f"""
[device]
name = "pair-site"
data_dir = "{root / 'data'}"
runtime_dir = "{root / 'run'}"

[serial]
keys_dir = "{root / 'nodes' / 'keys'}"

[store]
commit_interval_ms = 50

[[serial.nodes]]
name = "node-1"
port = "{fleet.nodes[0].port}"

[[serial.nodes]]
name = "gate"
port = "{newcomer.path}"
""")
    proc = subprocess.Popen([sys.executable, "-m", "controller", "run", "--config", str(cfg)],
                            stderr=open(root / "service.log", "wb"))  # noqa: SIM115
    return Site(root, fleet, KeyStore(root / "nodes" / "keys"), newcomer, uid, proc)


@pytest.fixture
def short_root() -> Iterator[Path]:
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="ewpair-", dir="/tmp"))  # AF_UNIX path limit
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _stop(site: Site) -> int:
    code = site.proc.poll()
    if code is None:
        site.proc.terminate()
        code = site.proc.wait(timeout=30)
    site.newcomer.stop()
    site.fleet.stop()
    return code


def test_a_node_paired_while_running_is_taken_on_sighup(short_root: Path) -> None:
    key = os.urandom(KEY_LEN)  # the node already holds it; the service's key store not yet
    site = _site(short_root, key, pairing=False)
    try:
        row = _wait(lambda: (n := site.node(site.newcomer_uid)) and n["state"] == "unpaired"
                    and n, what="the unknown node listed as unpaired")
        assert row["rejected"].get("unpaired", 0) > 0
        # what `edgewarden pair` writes: the key file and the registry entry
        site.keys.add(site.newcomer_uid, "gate", SecretKey(key),
                      datetime.now(UTC).isoformat(timespec="seconds"))
        os.kill(site.proc.pid, signal.SIGHUP)
        row = _wait(lambda: (n := site.node(site.newcomer_uid)) and n["state"] == "online"
                    and n, what="the newly paired node online without a restart")
        assert row["name"] == "gate" and row["paired"]
        _wait(lambda: any(c["node"] == "gate" for c in site.status()["channels"]),
              what="the node's readings reaching the service")
    finally:
        _stop(site)


def test_cli_pair_while_the_service_reads_the_port(short_root: Path) -> None:
    site = _site(short_root, None, pairing=True)
    try:
        _wait(lambda: (n := site.node(site.newcomer_uid)) and n["state"] == "unpaired",
              what="the node in pairing mode listed as unpaired")
        out = subprocess.run(
            [sys.executable, "-m", "controller", "pair", site.newcomer.path, "--config",
             str(site.root / "config.toml"), "--name", "gate"],
            capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"paired node {site.newcomer_uid} as 'gate'" in out.stdout
        record = site.keys.lookup(site.newcomer_uid)
        assert record is not None and record.name == "gate"
        # taken at once: no SIGHUP, no restart
        _wait(lambda: (n := site.node(site.newcomer_uid)) and n["state"] == "online",
              what="the node paired by the CLI online")
        # pairing it again is refused with the reason, and nothing changes
        again = subprocess.run(
            [sys.executable, "-m", "controller", "pair", site.newcomer.path, "--config",
             str(site.root / "config.toml"), "--name", "gate"],
            capture_output=True, text=True, timeout=60)
        assert again.returncode != 0 and "Traceback" not in again.stderr
        assert site.keys.lookup(site.newcomer_uid) == record
    finally:
        assert _stop(site) == 0


def _press_on_row(app: EdgewardenApp, uid: str) -> int:
    nodes = app.live.status.nodes
    return next(i for i, n in enumerate(nodes) if n.uid == uid)


def test_tui_pair_and_rotate_key_show_the_uid_and_work(short_root: Path) -> None:
    site = _site(short_root, None, pairing=True)  # the node's pairing button is held
    try:
        _wait(lambda: (n := site.node(site.newcomer_uid)) and n["state"] == "unpaired",
              what="the node in pairing mode listed as unpaired")
        asyncio.run(_pair_in_tui(site))
        row = _wait(lambda: (n := site.node(site.newcomer_uid)) and n["state"] == "online"
                    and n, what="the node paired from the TUI online")
        assert row["name"] == "gate"
        first = site.keys.lookup(site.newcomer_uid)
        assert first is not None

        # the node is put in pairing mode again (button held at power-up) for a new key
        site.newcomer.stop()
        gate_dir = short_root / "gate"
        site.newcomer = PtyNode(SimNodeOptions(
            uid=site.newcomer_uid, rate_hz=4.0, key_file=gate_dir / "node.key",
            pairing=True, link=gate_dir / "tty")).start()
        asyncio.run(_rotate_in_tui(site))
        second = site.keys.lookup(site.newcomer_uid)
        assert second is not None and second.fingerprint != first.fingerprint
        _wait(lambda: (n := site.node(site.newcomer_uid)) and n["state"] == "online",
              what="the node online with its new key")
    finally:
        _stop(site)


async def _open_nodes(app: EdgewardenApp, pilot: Any, uid: str) -> None:
    await until(pilot, lambda: app.connected)
    await pilot.press("4")
    table = app.screen.query_one(DataTable)
    await until(pilot, lambda: any(n.uid == uid for n in app.live.status.nodes), tries=400)
    await until(pilot, lambda: table.row_count == len(app.live.status.nodes))
    table.move_cursor(row=_press_on_row(app, uid))
    await pilot.pause(0.1)


async def _pair_in_tui(site: Site) -> None:
    app = EdgewardenApp(site.socket_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await _open_nodes(app, pilot, site.newcomer_uid)
        await pilot.press("p")
        await until(pilot, lambda: app.screen.query("#confirm"))
        body = plain(app.screen.query_one(".dialog-body", Static))
        assert f"uid {site.newcomer_uid}" in body and "gate" in body
        await pilot.click("#confirm")
        await until(pilot, lambda: any(n.uid == site.newcomer_uid and n.paired and n.online
                                       for n in app.live.status.nodes), tries=600)
    await close_connection(app)  # after the app ended: it would reconnect


async def _rotate_in_tui(site: Site) -> None:
    app = EdgewardenApp(site.socket_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await _open_nodes(app, pilot, site.newcomer_uid)
        await pilot.press("k")
        await until(pilot, lambda: app.screen.query("#confirm"))
        body = plain(app.screen.query_one(".dialog-body", Static))
        assert f"uid {site.newcomer_uid}" in body
        before = site.keys.lookup(site.newcomer_uid)
        await pilot.click("#confirm")
        await until(pilot, lambda: site.keys.lookup(site.newcomer_uid) != before, tries=600)
    await close_connection(app)  # after the app ended: it would reconnect
