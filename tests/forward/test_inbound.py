"""Inbound commands: off by default; when on, only ack and shelve, the rest refused."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.publish as publish
import pytest

from controller.control.client import ControlClient
from controller.forward import payloads
from controller.forward.inbound import CommandRefused, parse_command
from controller.store import HistoryReader, unlock_identity
from tests.service_run.conftest import PASSPHRASE

from .harness import ForwardProcess, Subscriber, forward_section, start_service, wait_until
from .mosquitto import Mosquitto, need_mosquitto


@pytest.mark.parametrize("raw, reason", [
    (b"not json", "not a JSON object"),
    (b"[1]", "not a JSON object"),
    (b'{"command": "config.apply", "alarm": "a"}', "is not accepted"),
    (b'{"command": "pair"}', "is not accepted"),
    (b'{"command": "ack"}', "'alarm' must be an alarm id"),
    (b'{"command": "ack", "alarm": "a", "user": "root"}', "unknown field(s) user"),
    (b'{"command": "shelve", "alarm": "a"}', "'minutes' must be a number"),
    (b'{"command": "shelve", "alarm": "a", "minutes": true}', "'minutes' must be a number"),
])
def test_only_ack_and_shelve_are_accepted(raw: bytes, reason: str) -> None:
    with pytest.raises(CommandRefused, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_command(raw)


def test_accepted_commands_map_to_the_control_commands() -> None:
    assert parse_command(b'{"command": "ack", "alarm": "n/t:limits"}') == (
        "alarms.ack", {"alarm": "n/t:limits", "comment": ""})
    assert parse_command(b'{"command": "shelve", "alarm": "a", "minutes": 5, "reason": "x"}') \
        == ("alarms.shelve", {"alarm": "a", "minutes": 5, "reason": "x"})


@pytest.fixture
def root() -> Iterator[Path]:
    need_mosquitto()
    with tempfile.TemporaryDirectory(prefix="ewf-", dir="/tmp") as d:
        yield Path(d)


def _alarm_state(sock: Path, alarm: str) -> str:
    with ControlClient(sock) as c:
        return next((a["state"] for a in c.call("status")["alarms"] if a["id"] == alarm),
                    "normal")  # the list shows points that need attention


def test_inbound_ack_only_when_enabled_unknown_refused(root: Path) -> None:
    with Mosquitto(root / "broker") as broker, start_service(
            root / "svc", forward_section(broker.url, root / "fwd")) as svc:
        sub = Subscriber(broker.port).start()
        base = "edgewarden/test-site"
        off = ForwardProcess(svc.config, root / "off.log").start()
        try:
            raised = wait_until(lambda: [t for t in sub.transitions() if t.event == "raise"],
                                60, "an alarm raise")
            alarm = raised[0].alarm
            command = json.dumps({"command": "ack", "alarm": alarm}).encode()
            publish.single(f"{base}/command", command, qos=1, hostname="127.0.0.1",
                           port=broker.port)
            # proof of time passing through the forwarder: two more readings of node-1
            n = len(sub.on("/sensor/node-1/temperature"))
            wait_until(lambda: len(sub.on("/sensor/node-1/temperature")) >= n + 2, 20)
            assert _alarm_state(svc.socket_path, alarm) in ("active_unack", "returned_unack")
            assert not sub.on("/command/result")
        finally:
            assert off.stop() == 0
        on_cfg = root / "inbound.toml"
        on_cfg.write_text(svc.config.read_text() + "inbound_commands = true\n")
        on = ForwardProcess(on_cfg, root / "on.log").start()
        try:
            wait_until(lambda: any("connected" in line for line in on.lines()), 20)
            publish.single(f"{base}/command", b'{"command": "export", "days": 1}', qos=1,
                           hostname="127.0.0.1", port=broker.port)
            results = wait_until(lambda: sub.decoded("/command/result"), 20, "a refusal")
            refusal = results[0]
            assert isinstance(refusal, payloads.CommandResult)
            assert not refusal.ok and "'export' is not accepted" in refusal.reason
            publish.single(f"{base}/command", command, qos=1, hostname="127.0.0.1",
                           port=broker.port)
            acks = wait_until(lambda: [t for t in sub.transitions() if t.event == "ack"], 20,
                              "the ack over MQTT")
            assert acks[0].alarm == alarm
            assert "via MQTT client edgewarden-forward-test-site" in acks[0].comment
            assert f"({os.getuid()})" in acks[0].user  # acted as the forwarder's own user
            ok = [r for r in sub.decoded("/command/result")
                  if isinstance(r, payloads.CommandResult) and r.ok]
            assert ok and ok[0].command == "alarms.ack"
        finally:
            assert on.stop() == 0
            sub.stop()
    # after the service stopped: the refusal is in its audit, with uid and client id
    identity = unlock_identity(root / "svc" / "data", PASSPHRASE)
    with HistoryReader(root / "svc" / "data", identity) as reader:
        audits = [r.body for r in reader.records() if r.kind == "audit"]
    refused = [a for a in audits if a.get("action") == "mqtt.command_refused"]
    assert len(refused) == 1 and refused[0]["uid"] == os.getuid()
    assert refused[0]["client_id"] == "edgewarden-forward-test-site"
    assert "'export' is not accepted" in refused[0]["reason"]
    acks = [a for a in audits if a.get("action") == "alarms.ack"]
    assert acks and acks[-1]["uid"] == os.getuid() and acks[-1]["ok"]
