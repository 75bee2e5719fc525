"""Silent, absent and dead nodes as a user meets them: the real `edgewarden run` with
simulated nodes on ptys, the default anomaly settings, read through the control socket."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from textual.widgets import DataTable

from controller.control.client import ControlClient, ServiceUnavailable
from controller.simulation.fleet import SimulatedFleet, start_paired_nodes
from tests.prepared_store import initialised_copy
from tests.tui.test_flows import text_of, until
from tui.app import EdgewardenApp

from .conftest import PASSPHRASE, RunningService, close_connection

NOPE = "/dev/ttyNOPE0"


def _wait(pred, timeout: float = 20.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _defaults_config(root: Path, fleet: SimulatedFleet, quiet_port: str) -> Path:
    """A site as a newcomer writes it: nodes and paths, no [anomaly] section at all; besides
    the fleet a node on a port that does not exist (`gone`), one on a path that is no
    serial port (`broken`) and one on a port where nothing arrives (`quiet`)."""
    nodes = "".join(f'[[serial.nodes]]\nname = "{n.name}"\nport = "{n.port}"\n\n'
                    for n in fleet.nodes)
    cfg = root / "config.toml"
    cfg.write_text(f"""
[device]
name = "test-site"
data_dir = "{root / 'data'}"
runtime_dir = "{root / 'run'}"

[serial]
keys_dir = "{root / 'nodes' / 'keys'}"

[store]
commit_interval_ms = 50

{nodes}
[[serial.nodes]]
name = "gone"
port = "{NOPE}"

[[serial.nodes]]
name = "broken"
port = "{root}"

[[serial.nodes]]
name = "quiet"
port = "{quiet_port}"
""")
    return cfg


def _start(root: Path, cfg: Path, fleet: SimulatedFleet, log_name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "controller", "run", "--config", str(cfg)],
        stderr=open(root / log_name, "wb"),
    )


def _status(sock: Path) -> dict[str, Any]:
    try:
        with ControlClient(sock) as client:
            return dict(client.call("status"))
    except (OSError, ServiceUnavailable):
        return {}


def _node(status: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((n for n in status.get("nodes", []) if n["name"] == name), None)


def _active(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in status.get("alarms", []) if a["state"] != "normal"]


def test_dead_and_absent_nodes_are_rows_and_one_alarm_each_by_default(tmp_path: Path) -> None:
    initialised_copy(tmp_path / "data", PASSPHRASE)
    fleet = start_paired_nodes(2, tmp_path / "nodes", rate_hz=5.0)
    quiet_master, quiet_slave = os.openpty()
    cfg = _defaults_config(tmp_path, fleet, os.ttyname(quiet_slave))
    sock = tmp_path / "run" / "control.sock"
    proc = _start(tmp_path, cfg, fleet, "service.log")
    try:
        _wait(lambda: (s := _status(sock)) and all(
            (_node(s, n) or {}).get("state") == "online" for n in ("node-1", "node-2")),
            timeout=30, what="both nodes online")

        # the port that does not exist is a row with its state and the reason, at once
        gone = _wait(lambda: _node(_status(sock), "gone"), what="the absent node's row")
        assert gone["state"] == "absent"
        assert gone["port"] == NOPE and "No such file" in (gone["last_error"] or "")
        status = _status(sock)
        broken = _node(status, "broken")
        assert broken is not None and broken["state"] == "failing" and broken["last_error"]
        assert _node(status, "quiet")["state"] == "silent"  # type: ignore[index]
        asyncio.run(_tui_lists_the_absent_node(sock))

        fleet.nodes[0].node.stop()  # the node's simulator dies
        missing_s = 20.0  # the default of [serial] missing_s
        alarms = _wait(lambda: (a := _active(_status(sock))) and
                       {x["channel"] for x in a} >= {"node-1", "gone", "broken", "quiet"}
                       and a,
                       timeout=missing_s + 20, what="node alarms with the defaults")
        # one alarm per node, none per channel (health alarms of a busy test machine aside)
        alarms = [a for a in alarms if not a["channel"].startswith("health/")]
        assert sorted((a["channel"], a["rule"]) for a in alarms) == [
            ("broken", "missing"), ("gone", "missing"), ("node-1", "missing"),
            ("quiet", "missing")]
        dead = next(a for a in alarms if a["channel"] == "node-1")
        assert "node-1/temperature" in dead["detail"]["channels"]
        absent = next(a for a in alarms if a["channel"] == "gone")
        assert absent["detail"]["state"] == "absent"
        assert absent["detail"]["port"] == NOPE
        assert NOPE in absent["message"] and "No such file" in absent["message"]
        assert dead["message"].startswith("node ")  # what went silent, in words
        assert "temperature" in dead["message"]
        status = _status(sock)
        assert _node(status, "node-1")["state"] != "online"  # type: ignore[index]
        assert _node(status, "node-2")["state"] == "online"  # type: ignore[index]
        assert not [a for a in status["alarms"] if a["channel"].startswith("node-2")]
    finally:
        proc.terminate()
        code = proc.wait(timeout=30)
    assert code == 0
    log = (tmp_path / "service.log").read_text()
    # many reopen attempts, one log line
    assert log.count(f"{NOPE}: cannot open") == 1, log

    # after a restart the dead node is still a row, and still an alarm
    proc = _start(tmp_path, cfg, fleet, "service2.log")
    try:
        status = _wait(lambda: (s := _status(sock)) and _node(s, "node-2")
                       and _node(s, "node-2")["state"] == "online" and s,  # type: ignore[index]
                       timeout=30, what="the service back")
        row = _node(status, "node-1")
        assert row is not None and row["state"] in ("absent", "failing")
        assert row["paired"] and row["uid"] == fleet.nodes[0].uid
        after = _wait(lambda: (a := {x["channel"]: x for x in _active(_status(sock))})
                      and {"node-1", "gone"} <= set(a) and a,
                      timeout=40, what="the dead node's alarm after the restart")
        assert after["node-1"]["detail"]["state"] in ("absent", "failing")
        assert "node-1/temperature" in after["node-1"]["detail"]["channels"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        fleet.stop()
        os.close(quiet_master)
        os.close(quiet_slave)


async def _tui_lists_the_absent_node(sock: Path) -> None:
    app = EdgewardenApp(sock)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.connected, tries=200)
        # the dashboard says what is wrong with it (it said "unpaired", as if pairing it
        # were the fix for a port that does not exist)
        await until(pilot, lambda: re.search(r"gone\s+absent", text_of(app, "#sensors"))
                    is not None, tries=200)
        await pilot.press("4")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 5, tries=200)
        names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        row = names.index("gone")
        assert str(table.get_row_at(row)[2]) == "absent"
        table.move_cursor(row=row)
        await pilot.pause(0.2)
        link = text_of(app, "#node-link")
        assert NOPE in link and "No such file" in link
    await close_connection(app)  # after the app ended: it would reconnect


def test_a_dropped_node_is_one_alarm_not_one_per_channel(service: RunningService) -> None:
    # this site has a per-channel `missing_s = 5` for every channel ("*")
    service.wait_notify("READY=1")
    with ControlClient(service.socket_path) as client:
        _wait(lambda: len([c for c in client.call("status")["channels"]
                           if c["node"] == "node-2"]) >= 4, timeout=30,
              what="node-2's channels")
        service.fleet.nodes[1].node.unplug()
        alarms = _wait(lambda: [a for a in client.call("status")["alarms"]
                                if a["channel"].startswith("node-2")
                                and a["state"] != "normal"],
                       timeout=30, what="node-2 missing")
        time.sleep(3 * 1.0)  # a few more ticks: no per-channel alarm follows the first
        alarms = [a for a in client.call("status")["alarms"]
                  if a["channel"].startswith("node-2") and a["state"] != "normal"]
        assert [(a["channel"], a["rule"]) for a in alarms] == [("node-2", "missing")]
        assert len(alarms[0]["detail"]["channels"]) >= 4
        # the node comes back: the one alarm returns to normal (or waits for its ack)
        service.fleet.nodes[1].node.replug()
        _wait(lambda: all(a["state"] in ("normal", "returned_unack")
                          for a in client.call("status")["alarms"]
                          if a["channel"] == "node-2"),
              timeout=30, what="node-2's alarm to return")
    assert service.stop() == 0
