"""Frames too broken to name their node (bad COBS, bad CRC) count as the node's rejects in
`status` and on the TUI's Nodes screen: the real service, a node sending garbage on a pty."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from textual.widgets import DataTable

from controller.control.client import ControlClient, ServiceUnavailable
from controller.simulation.fleet import start_paired_nodes
from tests.prepared_store import initialised_copy
from tests.tui.test_flows import text_of, until
from tui.app import EdgewardenApp

from .conftest import PASSPHRASE, close_connection


def _status(sock: Path) -> dict[str, Any]:
    try:
        with ControlClient(sock) as c:
            return dict(c.call("status"))
    except (OSError, ServiceUnavailable):
        return {}


def test_frame_errors_of_a_port_count_as_its_node_rejects() -> None:
    root = Path(tempfile.mkdtemp(prefix="ewrej-", dir="/tmp"))
    initialised_copy(root / "data", PASSPHRASE)
    fleet = start_paired_nodes(1, root / "nodes", rate_hz=10.0, faults={0: ["garbage@0:600"]})
    cfg = root / "config.toml"
    cfg.write_text(f"""
[device]
data_dir = "{root / 'data'}"
runtime_dir = "{root / 'run'}"

[serial]
keys_dir = "{root / 'nodes' / 'keys'}"

[[serial.nodes]]
name = "node-1"
port = "{fleet.nodes[0].port}"
""")
    sock = root / "run" / "control.sock"
    proc = subprocess.Popen([sys.executable, "-m", "controller", "run", "--config", str(cfg)],
                            stderr=open(root / "service.log", "wb"))  # noqa: SIM115
    try:
        deadline = time.monotonic() + 40
        while True:
            status = _status(sock)
            ports = status.get("ports") or [{}]
            errors = ports[0].get("frame_errors") or {}
            if sum(errors.values()) >= 5 and status["nodes"]:
                break
            assert time.monotonic() < deadline, f"no frame errors: {status}"
            time.sleep(0.3)
        row = status["nodes"][0]
        for reason, count in errors.items():  # every port-level reason is on the node's row
            assert row["rejected"].get(reason, 0) >= count
        asyncio.run(_nodes_screen_shows_rejects(sock))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        fleet.stop()
        shutil.rmtree(root, ignore_errors=True)


async def _nodes_screen_shows_rejects(sock: Path) -> None:
    app = EdgewardenApp(sock)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.connected, tries=200)
        await pilot.press("4")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 1, tries=200)
        await pilot.pause(0.2)
        await until(pilot, lambda: int(str(table.get_row_at(0)[-2]).replace(",", "")) > 0,
                    tries=200)  # the frames it accepted too (the node's `link` hid them)
        rejected = str(table.get_row_at(0)[-1]).replace(",", "")
        assert int(rejected) > 0
        link = text_of(app, "#node-link")
        assert any(reason in link for reason in ("bad_cobs", "bad_crc", "too_short"))
        assert "frames ok" in link and "frames ok        0" not in link
    await close_connection(app)  # after the app ended: it would reconnect
