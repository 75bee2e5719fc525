"""The real service's answers decode, strictly, as the shared schema (controller.control.schema).

Every Struct forbids unknown fields and most fields have no default, so a field the service
adds, drops or retypes without the schema fails here: the TUI, the CLI and the test doubles
read the same types and cannot silently drift from the service.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from controller.control.client import CommandFailed, ControlClient
from controller.control.protocol import EVENT_KINDS
from controller.control.schema import (
    NOTICE_TYPES,
    REPLIES,
    Alarm,
    AlarmNotice,
    ConfigCheck,
    DetectionNotice,
    EventHeader,
    HealthNotice,
    Status,
)
from tests.tui.test_real_service import RealService, real_service  # noqa: F401  (fixture)


def _strict(value: Any, kind: Any) -> Any:
    """Decode the socket's JSON answer as `kind`, as strictly as msgspec can."""
    return msgspec.json.decode(msgspec.json.encode(value), type=kind, strict=True)


def _status_with_everything(svc: RealService) -> Status:
    """A status once it has an alarm, a camera detection and a health sample to check."""
    deadline = time.monotonic() + 90
    while True:
        status: Status = _strict(svc.status(), Status)
        if (status.alarms and status.health is not None and status.store.checkpoint
                and all(c.last_detection is not None for c in status.cameras)):
            return status
        assert time.monotonic() < deadline, "no alarm, detection or health sample yet"
        time.sleep(0.5)


def _ack_one(svc: RealService, c: ControlClient, comment: str) -> Any:
    """Acknowledge an alarm that still waits for it (another test may have acked the first
    one, and a point can return to normal meanwhile); its answer."""
    deadline = time.monotonic() + 90
    while True:
        for alarm in _strict(svc.status(), Status).alarms:
            if alarm.state.endswith("unack"):
                try:
                    return c.call("alarms.ack", {"alarm": alarm.id, "comment": comment})
                except CommandFailed:  # acked or cleared since the status: try another
                    continue
        assert time.monotonic() < deadline, "no alarm waiting to be acknowledged"
        time.sleep(0.5)


def test_status_decodes_as_the_schema(real_service: RealService) -> None:  # noqa: F811
    status = _status_with_everything(real_service)
    assert {n.name for n in status.nodes} == {"north-door", "loading-bay", "server-room"}
    assert all(n.link is not None for n in status.nodes if n.online)
    assert status.cameras and status.cameras[0].tamper.state in ("off", "learning", "watching")
    assert status.you.uid >= 0


def test_events_and_audit_items_decode_as_the_schema(real_service: RealService) -> None:  # noqa: F811
    _status_with_everything(real_service)
    with ControlClient(real_service.socket_path) as c:
        acked = _strict(_ack_one(real_service, c, "schema test"), Alarm)
        events = _strict(c.call("events.list", {"limit": 50}), list[EventHeader])
        audit = _strict(c.call("events.list", {"kind": "audit", "limit": 50}),
                        list[EventHeader])
    assert events and {e.kind for e in audit} == {"audit"}
    assert acked.acked_by and acked.comment == "schema test"


def test_command_replies_decode_as_the_schema(real_service: RealService) -> None:  # noqa: F811
    """Every reply of the schema's table that the test's role may ask for, from the service."""
    asked = {"config.get": {}, "config.validate": {"toml": "[device]\nname = 'x'\n"},
             "history.fetch": {"limit": 3}, "vehicles.list": {}, "events.list": {"limit": 3}}
    with ControlClient(real_service.socket_path) as c:
        replies = {cmd: _strict(c.call(cmd, args), REPLIES[cmd]) for cmd, args in asked.items()}
        refused = _strict(c.call("config.validate", {"toml": "[device]\nnope = 1\n"}),
                          ConfigCheck)
    assert replies["config.get"].path and replies["config.get"].toml
    assert replies["config.validate"].valid and replies["history.fetch"].records
    assert not refused.valid and refused.line == 2 and refused.key


def test_every_live_event_decodes_as_the_schema(real_service: RealService) -> None:  # noqa: F811
    """Every kind the service publishes, from its start (the backlog) and live, decodes
    strictly as its notice Struct; an alarm's and a detection start's `seq` is the record
    `events.list` lists. (Plates: tests/service_run/test_plate_alarm.py, a gate camera.)"""
    assert set(NOTICE_TYPES) == set(EVENT_KINDS), "an event kind without its Struct"
    _status_with_everything(real_service)
    seen: dict[str, list[Any]] = {}
    with ControlClient(real_service.socket_path) as c:
        c.subscribe_from(0, None)  # the whole backlog, then live
        _ack_one(real_service, c, "wire test")
        deadline = time.monotonic() + 60
        while not {"reading", "alarm", "detection", "health"} <= set(seen) or not any(
                n.event == "ack" and n.comment == "wire test" for n in seen.get("alarm", [])):
            assert time.monotonic() < deadline, f"kinds seen: {sorted(seen)}"
            for event in c.events(timeout=1.0):
                seen.setdefault(event.event, []).append(
                    _strict(event.data, NOTICE_TYPES[event.event]))
                if len(seen.get("reading", ())) > 50 and event.event == "reading":
                    break
        listed = {e["id"]: e for e in c.call("events.list",
                                              {"kinds": ["alarm", "event"], "limit": 5000})}
    alarms: list[AlarmNotice] = seen["alarm"]
    assert all(a.seq is not None and listed[a.seq]["kind"] == "alarm"
               and listed[a.seq]["source"] == a.channel for a in alarms)
    assert [a.seq for a in alarms] == sorted(a.seq for a in alarms if a.seq is not None)
    starts = [d for d in seen["detection"] if isinstance(d, DetectionNotice)
              and d.phase == "start"]
    assert all(d.seq is not None and listed[d.seq]["kind"] == "event" for d in starts)
    assert all(d.seq is None for d in seen["detection"] if d.phase != "start")
    assert any(isinstance(h, HealthNotice) and h.health is not None and h.nodes
               for h in seen["health"])


def test_a_renamed_event_field_fails_the_decode() -> None:
    """The check above can fail: a live event with a field renamed is refused."""
    notice = {"seq": 3, "t": 1.0, "alarm_id": "n/t:limits", "channel": "n/t",
              "rule": "limits", "event": "raise", "from_state": "normal",
              "to_state": "active_unack", "severity": "warning", "priority": "high",
              "value": 1.0, "score": 1.0, "user": "", "comment": "", "chatter_per_hour": 1,
              "detail": None, "message": None}
    _strict(notice, AlarmNotice)
    renamed = {("id" if k == "alarm_id" else k): v for k, v in notice.items()}
    try:
        _strict(renamed, AlarmNotice)
    except msgspec.ValidationError:
        return
    raise AssertionError("a renamed field decoded")


def test_an_added_field_fails_the_decode() -> None:
    """The check above can fail: an unknown field is refused, a missing one too."""
    header = {"id": 1, "time": 1.0, "epoch": 0, "kind": "event", "source": "s",
              "severity": "info", "media": 0}
    _strict(header, EventHeader)
    for bad in ({**header, "extra": 1}, {k: v for k, v in header.items() if k != "media"}):
        try:
            _strict(bad, EventHeader)
        except msgspec.ValidationError:
            continue
        raise AssertionError(f"{bad} decoded")
