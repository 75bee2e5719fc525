"""`edgewarden forward` between a real service (simulated nodes) and a real mosquitto."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.control.client import ControlClient
from controller.forward import payloads
from tests.service_run.conftest import RunningService

from .harness import (
    ForwardProcess,
    Subscriber,
    forward_section,
    seq_of,
    start_service,
    wait_until,
)
from .mosquitto import Mosquitto, need_mosquitto

pytestmark = pytest.mark.usefixtures("mosquitto_binary")


@pytest.fixture
def mosquitto_binary() -> str:
    return need_mosquitto()


@pytest.fixture
def short_root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ewf-", dir="/tmp") as d:  # AF_UNIX paths
        yield Path(d)


@pytest.fixture
def broker(short_root: Path) -> Iterator[Mosquitto]:
    with Mosquitto(short_root / "broker") as m:
        yield m


def _site(root: Path, broker: Mosquitto,
          extra: str = "") -> contextlib.AbstractContextManager[RunningService]:
    return start_service(root, forward_section(broker.url, root / "fwd", extra))


def _raised(sub: Subscriber) -> list[payloads.AlarmTransition]:
    return [t for t in sub.transitions() if t.event == "raise"]


def _assert_once_in_order(transitions: list[payloads.AlarmTransition]) -> None:
    ids = [seq_of(t.id) for t in transitions]
    assert len(set(ids)) == len(ids), "a transition arrived twice"
    assert ids == sorted(ids), "transitions out of order"


def test_alarms_reach_a_subscriber_in_order_with_discovery(short_root: Path,
                                                           broker: Mosquitto) -> None:
    sub = Subscriber(broker.port).start()
    fwd = ForwardProcess(short_root / "svc" / "config.toml", short_root / "fwd.log")
    try:
        with _site(short_root / "svc", broker) as svc:
            fwd.start()
            raised = wait_until(lambda: _raised(sub), 60, "an alarm raise over MQTT")
            assert raised[0].channel == "node-1/temperature"
            assert raised[0].priority and raised[0].value is not None
            with ControlClient(svc.socket_path) as c:
                c.call("alarms.ack", {"alarm": raised[0].alarm, "comment": "seen"})
            wait_until(lambda: [t for t in sub.transitions() if t.event == "ack"], 20, "ack")
            _assert_once_in_order(sub.transitions())
            # the point's retained state follows
            states = sub.decoded(f"/alarm/{raised[0].alarm.replace('/', '_').replace(':', '_')}"
                                 f"/state")
            assert isinstance(states[-1], payloads.AlarmPointState)
            assert states[-1].state == "active_ack" or states[-1].state == "normal"
            # availability, readings and node link state
            assert [m.payload for m in sub.on("/availability")][-1] == b"online"
            readings = sub.decoded("/sensor/node-1/temperature")
            assert readings and all(isinstance(r, payloads.SensorValue) for r in readings)
            links = wait_until(lambda: sub.decoded("/node/node-1/link"), 20, "node link")
            assert isinstance(links[-1], payloads.NodeLink) and links[-1].state
            _check_discovery(sub)
    finally:
        assert fwd.stop() == 0
        sub.stop()
    assert not [line for line in fwd.lines() if "Traceback" in line]


def _check_discovery(sub: Subscriber) -> None:
    configs = {m.topic: json.loads(m.payload) for m in sub.messages
               if m.topic.startswith("homeassistant/") and m.payload}
    assert configs, "no discovery configs"
    unique = [c["unique_id"] for c in configs.values()]
    assert len(unique) == len(set(unique))
    components = set()
    for topic, conf in configs.items():
        parts = topic.split("/")
        assert len(parts) == 5 and parts[0] == "homeassistant" and parts[-1] == "config", topic
        assert parts[2] == "test-site"
        components.add(parts[1])
        assert conf["state_topic"].startswith("edgewarden/test-site/")
        assert conf["availability_topic"] == "edgewarden/test-site/availability"
        assert conf["device"]["identifiers"] == ["edgewarden_test-site"]
        assert conf["device"]["sw_version"]
        if parts[1] == "sensor":
            assert "value_template" in conf and conf["state_class"] == "measurement"
        else:
            assert parts[1] == "binary_sensor" and conf["payload_on"] == "ON"
    assert components == {"sensor", "binary_sensor"}
    temp = configs["homeassistant/sensor/test-site/sensor_node-1_temperature/config"]
    assert temp["device_class"] == "temperature" and temp["unit_of_measurement"]


def test_broker_away_then_back_everything_once_in_order(short_root: Path,
                                                        broker: Mosquitto) -> None:
    sub = Subscriber(broker.port).start()
    fwd = ForwardProcess(short_root / "svc" / "config.toml", short_root / "fwd.log")
    try:
        with _site(short_root / "svc", broker) as svc:
            fwd.start()
            raised = wait_until(lambda: _raised(sub), 60, "an alarm raise over MQTT")
            sub.stop()
            broker.stop()
            with ControlClient(svc.socket_path) as c:
                c.call("alarms.ack", {"alarm": raised[0].alarm, "comment": "while away"})
            wait_until(lambda: any("connection refused" in line for line in fwd.lines()),
                       20, "the forwarder's line about the broker")
            # the service (so status and the TUI) hears how the forwarder is
            report = wait_until(lambda: _forwarder_report(svc, connected=False,
                                                          error="connection refused"),
                                20, "the report of the broker away")
            assert report["outbox"] >= 2  # the ack's transition and point state wait
            broker.start()
            sub = Subscriber(broker.port).start()  # the same durable session
            acks = wait_until(lambda: [t for t in sub.transitions() if t.event == "ack"],
                              30, "the ack made while the broker was away")
            assert acks[0].comment == "while away"
            all_seen = sub.transitions()
            _assert_once_in_order(all_seen)
            wait_until(lambda: _forwarder_report(svc, connected=True), 20, "connected again")
    finally:
        assert fwd.stop() == 0
        sub.stop()
    broken = [line for line in fwd.lines() if "broker" in line and "refused" in line]
    assert len(broken) == 1, fwd.lines()  # said once, not once per retry


def test_forwarder_killed_with_a_full_outbox_loses_no_alarm(short_root: Path,
                                                            broker: Mosquitto) -> None:
    sub = Subscriber(broker.port).start()
    cfg = short_root / "svc" / "config.toml"
    fwd = ForwardProcess(cfg, short_root / "fwd.log")
    try:
        with _site(short_root / "svc", broker,
                         "outbox_max_messages = 5") as svc:
            fwd.start()
            raised = wait_until(lambda: _raised(sub), 60, "an alarm raise over MQTT")
            sub.stop()
            broker.stop()
            alarm = raised[0].alarm
            with ControlClient(svc.socket_path) as c:
                c.call("alarms.ack", {"alarm": alarm, "comment": "one"})
                c.call("alarms.shelve", {"alarm": alarm, "minutes": 1, "reason": "two"})
            # readings keep coming and fill the outbox of 5
            wait_until(lambda: _outbox_depth(short_root / "svc" / "fwd") >= 5, 20, "full")
            fwd.kill()
            broker.start()
            sub = Subscriber(broker.port).start()
            fwd.start()
            got = wait_until(lambda: [t for t in sub.transitions()
                                      if t.event in ("ack", "shelve")], 30, "ack and shelve")
            wait_until(lambda: len([t for t in sub.transitions()
                                    if t.event in ("ack", "shelve")]) >= 2, 10)
            got = [t for t in sub.transitions() if t.event in ("ack", "shelve")]
            assert [(t.event, t.comment) for t in got] == [("ack", "one"), ("shelve", "two")]
            _assert_once_in_order(sub.transitions())
    finally:
        fwd.stop()
        sub.stop()


def test_forwarder_restart_mid_stream_names_each_alarm_by_its_record(
        short_root: Path, broker: Mosquitto) -> None:
    """Issue 18: killed and started again, the forwarder resumes; after dropping
    duplicates by message id each transition arrives once, and its id is its `alarm`
    record's sequence number, as `events.list` lists it."""
    sub = Subscriber(broker.port).start()
    fwd = ForwardProcess(short_root / "svc" / "config.toml", short_root / "fwd.log")
    try:
        with _site(short_root / "svc", broker) as svc:
            fwd.start()
            raised = wait_until(lambda: _raised(sub), 60, "an alarm raise over MQTT")
            alarm = raised[0].alarm
            with ControlClient(svc.socket_path) as c:
                c.call("alarms.ack", {"alarm": alarm, "comment": "before"})
                wait_until(lambda: [t for t in sub.transitions() if t.event == "ack"], 20)
                fwd.kill()  # mid-stream: the service keeps notifying into its backlog
                c.call("alarms.shelve", {"alarm": alarm, "minutes": 5, "reason": "while down"})
                fwd.start()
                wait_until(lambda: [t for t in sub.transitions() if t.event == "shelve"], 30,
                           "the shelve made while the forwarder was down")
                listed = c.call("events.list", {"kind": "alarm", "limit": 500})
            by_id: dict[str, set[bytes]] = {}
            for m in sub.on("/alarm/events"):
                by_id.setdefault(payloads.decode(m.payload).id, set()).add(m.payload)
            assert all(len(copies) == 1 for copies in by_id.values()), \
                "one id, two different messages"
            got = sorted(int(i) for i in by_id)  # every transition is named by a record
            records = {e["id"]: e for e in listed}
            assert set(got) <= set(records), "an id that is no alarm record"
            transitions = {int(t.id): t for t in sub.transitions()}
            assert all(records[i]["source"] == transitions[i].channel for i in got)
            # nothing lost across the restart: every alarm record between the first and
            # the last one forwarded arrived
            assert got == sorted(i for i in records if got[0] <= i <= got[-1])
            events = [transitions[i].event for i in got if transitions[i].alarm == alarm]
            assert events.index("raise") < events.index("ack") < events.index("shelve")
    finally:
        assert fwd.stop() == 0
        sub.stop()


def _outbox_depth(state_dir: Path) -> int:
    import sqlite3

    path = state_dir / "outbox.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])


def _forwarder_report(svc: RunningService, connected: bool,
                      error: str = "") -> dict[str, Any] | None:
    with ControlClient(svc.socket_path) as c:
        report = c.call("status").get("forwarder")
    if not report or report["connected"] is not connected:
        return None
    return report if error in (report["last_error"] or "") else None


def _restart(svc: RunningService) -> None:
    """Stop the service and start it again on the same site (same nodes, same store)."""
    import os
    import subprocess
    import sys

    svc.proc.terminate()
    svc.proc.wait(30)
    svc.messages.clear()
    env = dict(os.environ, NOTIFY_SOCKET=str(svc.root / "notify.sock"))
    env.pop("WATCHDOG_USEC", None)
    svc.proc = subprocess.Popen([sys.executable, "-m", "controller", "run", "--config",
                                 str(svc.config)], env=env,
                                stderr=open(svc.root / "service2.log", "wb"))  # noqa: SIM115
    svc.wait_notify("READY=1", timeout=60)


def test_service_restart_is_a_gap_and_every_alarm_point_is_republished(
        short_root: Path, broker: Mosquitto) -> None:
    sub = Subscriber(broker.port).start()
    fwd = ForwardProcess(short_root / "svc" / "config.toml", short_root / "fwd.log")
    try:
        with _site(short_root / "svc", broker) as svc:
            fwd.start()
            raised = wait_until(lambda: _raised(sub), 60, "an alarm raise over MQTT")
            alarm = raised[0].alarm
            with ControlClient(svc.socket_path) as c:
                c.call("alarms.shelve", {"alarm": alarm, "minutes": 30, "reason": "works"})
            wait_until(lambda: [t for t in sub.transitions() if t.event == "shelve"], 20)
            readings = wait_until(lambda: sub.decoded("/sensor/node-1/temperature"), 20)
            old_stream = seq_of(readings[0].id)[0]  # readings are named by the stream
            before = len(sub.messages)
            _restart(svc)
            gaps = wait_until(lambda: sub.decoded("/gap"), 60, "the restart as a gap")
            gap = gaps[0]
            assert isinstance(gap, payloads.Gap)
            assert gap.missing is None and gap.reason == "service restarted"
            assert gap.stream == old_stream
            # the shelved point's state is published again, retained, from the new stream
            def republished() -> list[payloads.AlarmPointState]:
                return [p for m in sub.messages[before:] if m.topic.endswith("/state")
                        and "/alarm/" in m.topic and m.payload
                        for p in [payloads.decode(m.payload)]
                        if isinstance(p, payloads.AlarmPointState) and p.alarm == alarm]
            states = wait_until(republished, 30, "the alarm point republished")
            assert states[0].state == "shelved" and seq_of(states[0].id)[0] != gap.stream
    finally:
        assert fwd.stop() == 0
        sub.stop()
