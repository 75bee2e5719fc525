"""Service notifications to MQTT messages (pure, no I/O): what goes where, and how often.

:class:`Translator` takes one control-socket event (kind, sequence, data) and returns the
messages to store in the outbox. It rate-limits readings per channel, publishes a node's
link state only when it changes, and turns the service's alarm list (from `status`) into
retained per-point states, as after a service restart.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

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


class Translator:
    def __init__(self, topics: Topics, *, reading_min_interval_s: float,
                 publish_snapshots: bool = False) -> None:
        self.topics = topics
        self.reading_min_interval_s = reading_min_interval_s
        self.publish_snapshots = publish_snapshots
        self._last_reading: dict[str, float] = {}  # channel -> time of the last one sent
        self._link: dict[str, str] = {}  # node -> last link state sent
        self.readings_skipped = 0

    def event(self, kind: str, msg_id: str, data: Any, now: float) -> list[Outgoing]:
        if not isinstance(data, Mapping):
            return []
        if kind == "alarm":
            return self._alarm(msg_id, data)
        if kind == "detection":
            return self._detection(msg_id, data)
        if kind == "plate":
            return self._plate(msg_id, data)
        if kind == "reading":
            return self._reading(msg_id, data, now)
        if kind == "health":
            return self._health(msg_id, data)
        return []

    # ------------------------------------------------------------------ kinds
    def _alarm(self, msg_id: str, d: Mapping[str, Any]) -> list[Outgoing]:
        alarm = _str(d.get("alarm_id"))
        state = _str(d.get("to_state"))
        tr = p.AlarmTransition(
            id=msg_id, alarm=alarm, channel=_str(d.get("channel")), rule=_str(d.get("rule")),
            event=_str(d.get("event")), from_state=_str(d.get("from_state")), state=state,
            severity=_str(d.get("severity")), priority=_str(d.get("priority")),
            value=_num(d.get("value")), t=_num(d.get("t")) or 0.0, user=_str(d.get("user")),
            comment=_str(d.get("comment")), message=d.get("message") if isinstance(
                d.get("message"), str) else None,
        )
        point = p.AlarmPointState(
            id=msg_id, alarm=alarm, channel=tr.channel, rule=tr.rule, state=state,
            active=state not in _NOT_ACTIVE, severity=tr.severity, priority=tr.priority,
            value=tr.value, t=tr.t,
            acked_by=tr.user if tr.event == "ack" and tr.user else None,
        )
        return [Outgoing(self.topics.alarm_events, p.encode(tr), False, "alarm", msg_id),
                Outgoing(self.topics.alarm_state(alarm), p.encode(point), True, "alarm",
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

    def _detection(self, msg_id: str, d: Mapping[str, Any]) -> list[Outgoing]:
        camera = _str(d.get("camera"), "camera")
        snapshot = d.get("snapshot")
        det = p.Detection(
            id=msg_id, camera=camera, zone=d.get("zone") if isinstance(d.get("zone"), str)
            else None, label=_str(d.get("label")), score=_num(d.get("score")) or 0.0,
            t=_num(d.get("time")) or 0.0, start=_num(d.get("start")),
            track_id=d.get("track_id") if isinstance(d.get("track_id"), int) else None,
            snapshot_b64=base64.b64encode(snapshot).decode("ascii")
            if self.publish_snapshots and isinstance(snapshot, bytes) else None,
        )
        return [Outgoing(self.topics.detection(camera), p.encode(det), False, "event", msg_id)]

    def _plate(self, msg_id: str, d: Mapping[str, Any]) -> list[Outgoing]:
        camera = _str(d.get("camera"), "camera")
        listed, agreeing = d.get("list"), d.get("agreeing")
        read = p.PlateRead(
            id=msg_id, camera=camera, label=_str(d.get("label")), t=_num(d.get("time")) or 0.0,
            confidence=_num(d.get("confidence")) or 0.0,
            agreeing=agreeing if isinstance(agreeing, int) else 0,
            list=listed if isinstance(listed, str) else None,
            entry=d.get("entry") if isinstance(d.get("entry"), str) else None,
            priority=d.get("priority") if isinstance(d.get("priority"), str) else None,
            track_id=d.get("track_id") if isinstance(d.get("track_id"), int) else None,
        )
        return [Outgoing(self.topics.plate(camera), p.encode(read), False, "event", msg_id)]

    def _reading(self, msg_id: str, d: Mapping[str, Any], now: float) -> list[Outgoing]:
        node, channel = _str(d.get("node")), _str(d.get("channel"))
        key = f"{node}/{channel}"
        last = self._last_reading.get(key)
        if last is not None and now - last < self.reading_min_interval_s:
            self.readings_skipped += 1
            return []
        self._last_reading[key] = now
        value = p.SensorValue(id=msg_id, node=node, channel=channel,
                              value=_num(d.get("value")), unit=_str(d.get("unit")),
                              t=_num(d.get("received_wall")) or now)
        return [Outgoing(self.topics.sensor(key), p.encode(value), True, "reading", msg_id)]

    def _health(self, msg_id: str, d: Mapping[str, Any]) -> list[Outgoing]:
        out = []
        metrics = {k: v for k, v in d.items() if k not in ("nodes", "store", "plates")}
        if metrics:
            out.append(Outgoing(self.topics.health, p.encode(p.Health(
                id=msg_id, t=_num(d.get("time")), metrics=metrics)), True, "state", msg_id))
        out.extend(self.node_links(msg_id, mappings(d.get("nodes"))))
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
