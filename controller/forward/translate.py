"""Service notifications to MQTT messages (pure, no I/O): what goes where, and how often.

:class:`Translator` takes one control-socket event (its notice, decoded by the shared
schema, and the stream's "<stream>:<seq>") and returns the messages to store in the
outbox. It rate-limits readings per channel, publishes a node's
link state only when it changes, and turns the service's alarm list (from `status`) into
retained per-point states, as after a service restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from controller.control import schema
from controller.control.schema import to_wire
from controller.forward import payloads as p
from controller.forward.topics import Topics

#: Outbox classes in the order they are shed when the outbox is full (alarms never are).
MessageClass = Literal["reading", "state", "event", "alarm"]
SHED_ORDER: tuple[MessageClass, ...] = ("reading", "state", "event")

_NOT_ACTIVE = frozenset({"normal", "shelved", "suppressed"})


@dataclass(frozen=True)
class Outgoing:
    """One message for the broker, as the outbox stores it."""

    topic: str
    payload: bytes
    retain: bool
    klass: MessageClass
    msg_id: str


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def mappings(value: Any) -> list[Mapping[str, Any]]:
    """The objects of a list from the service (anything else in it, or a non-list: none)."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def message_id(notice: schema.Notice, stream_id: str) -> str:
    """The stable id of a notice's messages: its record's sequence number in the store
    (alarm transitions, detection starts, plate reads), the same after any restart of the
    forwarder or the service; else `stream_id`, the service's "<stream>:<seq>" (readings,
    health, detection updates, a record the store could not keep)."""
    seq = getattr(notice, "seq", None)
    return str(seq) if isinstance(seq, int) else stream_id


class Translator:
    def __init__(self, topics: Topics, *, reading_min_interval_s: float,
                 publish_snapshots: bool = False) -> None:
        self.topics = topics
        self.reading_min_interval_s = reading_min_interval_s
        self.publish_snapshots = publish_snapshots
        self._last_reading: dict[str, float] = {}  # channel -> time of the last one sent
        self._link: dict[str, str] = {}  # node -> last link state sent
        self.readings_skipped = 0

    def event(self, notice: schema.Notice, stream_id: str, now: float) -> list[Outgoing]:
        """The messages of one notice; `stream_id` ("<stream>:<seq>") names it when it
        has no record of its own (see :func:`message_id`)."""
        msg_id = message_id(notice, stream_id)
        if isinstance(notice, schema.AlarmNotice):
            return self._alarm(msg_id, notice)
        if isinstance(notice, schema.DetectionNotice):
            return self._detection(msg_id, notice)
        if isinstance(notice, schema.PlateNotice):
            return self._plate(msg_id, notice)
        if isinstance(notice, schema.ReadingNotice):
            return self._reading(msg_id, notice, now)
        return self._health(msg_id, notice)

    # ------------------------------------------------------------------ kinds
    def _alarm(self, msg_id: str, d: schema.AlarmNotice) -> list[Outgoing]:
        tr = p.AlarmTransition(
            id=msg_id, alarm=d.alarm_id, channel=d.channel, rule=d.rule, event=d.event,
            from_state=d.from_state, state=d.to_state, severity=d.severity,
            priority=d.priority, value=d.value, t=d.t, user=d.user, comment=d.comment,
            message=d.message,
        )
        point = p.AlarmPointState(
            id=msg_id, alarm=d.alarm_id, channel=d.channel, rule=d.rule, state=d.to_state,
            active=d.to_state not in _NOT_ACTIVE, severity=d.severity, priority=d.priority,
            value=d.value, t=d.t, acked_by=d.user if d.event == "ack" and d.user else None,
        )
        return [Outgoing(self.topics.alarm_events, p.encode(tr), False, "alarm", msg_id),
                Outgoing(self.topics.alarm_state(d.alarm_id), p.encode(point), True, "alarm",
                         msg_id)]

    def alarm_points(self, msg_id: str, views: Iterable[Mapping[str, Any]]) -> list[Outgoing]:
        """Every alarm point's current state from `status` (retained): after a restart."""
        out = []
        for v in mappings(list(views)):
            alarm, state = _str(v.get("id")), _str(v.get("state"))
            point = p.AlarmPointState(
                id=msg_id, alarm=alarm, channel=_str(v.get("channel")),
                rule=_str(v.get("rule")), state=state, active=state not in _NOT_ACTIVE,
                severity=_str(v.get("severity")), priority=_str(v.get("priority")),
                value=_num(v.get("value")), t=_num(v.get("since")),
                acked_by=v.get("acked_by") if isinstance(v.get("acked_by"), str) else None,
                shelved_until=_num(v.get("shelved_until")),
            )
            out.append(Outgoing(self.topics.alarm_state(alarm), p.encode(point), True,
                                "alarm", msg_id))
        return out

    def points_back_to_normal(self, msg_id: str, alarms: Iterable[str]) -> list[Outgoing]:
        """Retained `normal` for points the service no longer lists (after a restart a
        dashboard must not keep showing an alarm that ended while nobody was told)."""
        return [Outgoing(self.topics.alarm_state(a), p.encode(p.AlarmPointState(
            id=msg_id, alarm=a, channel=a.rpartition(":")[0], rule=a.rpartition(":")[2],
            state="normal", active=False, severity="", priority="", value=None, t=None)),
            True, "alarm", msg_id) for a in sorted(alarms)]

    def _detection(self, msg_id: str, d: schema.DetectionNotice) -> list[Outgoing]:
        # the live notice carries no image (snapshots are media in the store): with
        # `publish_snapshots` there is still none to send
        det = p.Detection(id=msg_id, camera=d.camera, zone=d.zone, label=d.label,
                          score=d.score, t=d.time, start=d.start, track_id=d.track_id,
                          phase=d.phase, event_id=d.event_id, snapshot_b64=None)
        return [Outgoing(self.topics.detection(d.camera), p.encode(det), False, "event",
                         msg_id)]

    def _plate(self, msg_id: str, d: schema.PlateNotice) -> list[Outgoing]:
        read = p.PlateRead(
            id=msg_id, camera=d.camera, label=d.label, t=d.time, confidence=d.confidence,
            agreeing=d.agreeing, list=d.list, entry=d.entry, priority=d.priority,
            track_id=d.track_id,
        )
        return [Outgoing(self.topics.plate(d.camera), p.encode(read), False, "event", msg_id)]

    def _reading(self, msg_id: str, d: schema.ReadingNotice, now: float) -> list[Outgoing]:
        key = f"{d.node}/{d.channel}"
        last = self._last_reading.get(key)
        if last is not None and now - last < self.reading_min_interval_s:
            self.readings_skipped += 1
            return []
        self._last_reading[key] = now
        value = p.SensorValue(id=msg_id, node=d.node, channel=d.channel, value=d.value,
                              unit=d.unit, t=d.received_wall)
        return [Outgoing(self.topics.sensor(key), p.encode(value), True, "reading", msg_id)]

    def _health(self, msg_id: str, d: schema.HealthNotice) -> list[Outgoing]:
        out = []
        if d.health is not None:
            out.append(Outgoing(self.topics.health, p.encode(p.Health(
                id=msg_id, t=d.health.time, metrics=msgspec.to_builtins(d.health))),
                True, "state", msg_id))
        out.extend(self.node_links(msg_id, [to_wire(n) for n in d.nodes or []]))
        return out

    def node_links(self, msg_id: str, nodes: Iterable[Any]) -> list[Outgoing]:
        """Link state of each node whose state changed since the last one sent."""
        out = []
        for n in mappings(list(nodes)):
            name, state = _str(n.get("name")) or _str(n.get("id")), _str(n.get("state"))
            if not name or self._link.get(name) == state:
                continue
            self._link[name] = state
            link = p.NodeLink(id=msg_id, node=name, state=state,
                              port=n.get("port") if isinstance(n.get("port"), str) else None,
                              last_seen=_num(n.get("last_seen")))
            out.append(Outgoing(self.topics.node_link(name), p.encode(link), True, "state",
                                msg_id))
        return out

    def gap(self, msg_id: str, stream: str | None, after: int, missing: int | None,
            reason: str) -> Outgoing:
        return Outgoing(self.topics.gap, p.encode(p.Gap(
            id=msg_id, stream=stream, after=after, missing=missing, reason=reason)),
            False, "alarm", msg_id)
