"""The service under a relay on the cable (issue 14): a `link` alarm and a summary record.

A real `edgewarden run` reads a paired, simulated node through an attacker's relay that
drops every frame saying the door is open and injects forged frames under the node's uid.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from controller.control.client import ControlClient
from controller.simulation.fleet import start_paired_nodes
from controller.store.handout import HandoutReader, unlock_handed_identity
from firmware_bridge.messages import MsgType
from firmware_bridge.signing import build_signed_frame
from tests.prepared_store import initialised_copy
from tests.serial.attacker import Relay, carries_door_open

from .conftest import PASSPHRASE, write_config
from .test_service import _wait


def test_relay_dropping_door_frames_raises_a_link_alarm_and_forgeries_a_record(
        tmp_path: Path) -> None:
    initialised_copy(tmp_path / "data", PASSPHRASE)
    fleet = start_paired_nodes(1, tmp_path / "nodes", rate_hz=4.0)
    sim = fleet.nodes[0]
    relay = Relay(sim.port, drop=carries_door_open).start()
    cfg = write_config(tmp_path, fleet, extra="")
    text = cfg.read_text().replace(f'port = "{sim.port}"', f'port = "{relay.path}"')
    cfg.write_text(text.replace("[serial]\n", "[serial]\nreject_summary_s = 2.0\n"))
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify.sock"))
    proc = subprocess.Popen([sys.executable, "-m", "controller", "run", "--config", str(cfg)],
                            env=env, stderr=open(tmp_path / "service.log", "wb"))  # noqa: SIM115
    try:
        sock = tmp_path / "run" / "control.sock"
        _wait(sock.exists, what="the control socket")
        with ControlClient(sock) as client:
            _wait(lambda: any(n["state"] == "online" for n in client.call("status")["nodes"]),
                  what="the node online")
            sim.node.node.env.next_door_s = sim.node.node.elapsed_s() + 1.0  # door opens
            forged_key = os.urandom(32)
            for counter in range(1, 31):
                relay.inject(build_signed_frame(forged_key, bytes.fromhex(sim.uid), counter,
                                                MsgType.HEARTBEAT, bytes(12),
                                                from_controller=False))
            alarms = _wait(
                lambda: [a for a in client.call("status")["alarms"]
                         if a["channel"] == "link/node-1/lost_frames"],
                timeout=30, what="a link alarm for the dropped frames")
            assert alarms[0]["state"] in ("active_unack", "returned_unack")
            assert relay.dropped >= 4
            (node,) = client.call("status")["nodes"]
            assert node["link"]["lost_frames"] > 2  # over the default max_lost_frames
            time.sleep(2.5)  # one summary interval
            history = client.call("history.fetch", {"kinds": ["link", "alarm"]})
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        relay.stop()
        fleet.stop()
        notify.close()
    identity = unlock_handed_identity(history, PASSPHRASE)
    records = list(HandoutReader(history, identity).records())
    summaries = [r.body for r in records if r.kind == "link"]
    forged = sum(s["by_node"].get(sim.uid, {}).get("bad_signature", 0) for s in summaries)
    assert forged == 30  # every forged frame counted ...
    assert len(summaries) < 10  # ... in a few summaries, not one record each
    assert any(r.kind == "alarm" and r.source == "link/node-1/lost_frames"
               for r in records)
