"""The live picture of the site: a `status` snapshot kept current by subscription events.

Sans-IO: no sockets, no clock. The app feeds it the `status` result and every event it
receives; screens read :attr:`LiveState.status` and the per-channel history that draws the
sparklines. Applying an event returns which parts changed so the UI redraws only those.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Mapping
from typing import Any

from controller.control import schema
from tui.model import (
    Alarm,
    AlarmTransition,
    Camera,
    Channel,
    Node,
    Status,
    alarm_of,
    detection_of,
    health_of,
    node_of,
    plates_cell,
    store_of,
)
from tui.plate_reads import PlateRead, plate_read_of

HISTORY_POINTS = 60
PLATE_NOTICES = 200  # the live plate reads kept (newest); history has the rest
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"

# the parts of the status an event can change; screens subscribe to the ones they show
NODES = "nodes"
ALARMS = "alarms"
CAMERAS = "cameras"
HEALTH = "health"
STORE = "store"
PLATES = "plates"


class LiveState:
    """Status plus bounded per-channel value history; mutated only through `apply_*`."""

    def __init__(self, history_points: int = HISTORY_POINTS) -> None:
        self.status = Status()
        self.history_points = history_points
        self._history: dict[tuple[str, str], deque[float]] = {}
        # plate reads heard since the app started, oldest first (verdicts, never text)
        self.plates: deque[PlateRead] = deque(maxlen=PLATE_NOTICES)

    def history(self, node: str, channel: str) -> tuple[float, ...]:
        return tuple(self._history.get((node, channel), ()))

    def apply_status(
        self, status: Status, histories: Mapping[tuple[str, str], list[float]] | None = None
    ) -> set[str]:
        """A fresh snapshot (on connect): replaces everything but keeps the history."""
        self.status = status
        for (node_id, channel), values in (histories or {}).items():
            if not self._history.get((node_id, channel)):
                for v in values:
                    self._remember(node_id, channel, v)
        for node in status.nodes:
            for ch in node.channels:
                if ch.value is not None and not self._history.get((node.id, ch.name)):
                    self._remember(node.id, ch.name, ch.value)
        return {NODES, ALARMS, CAMERAS, HEALTH, STORE}

    def apply_event(self, kind: str, data: Any) -> set[str]:
        """Fold one subscription event in (decoded by the shared schema, so each field has
        one name); raises `schema.EventMismatch` (one line) for a payload of another shape."""
        notice = schema.decode_event(kind, data)
        if isinstance(notice, schema.ReadingNotice):
            return self._reading(notice)
        if isinstance(notice, schema.AlarmNotice):
            return self._transition(notice)
        if isinstance(notice, schema.DetectionNotice):
            return self._detection(notice)
        if isinstance(notice, schema.HealthNotice):
            return self._health(notice)
        if isinstance(notice, schema.PlateNotice):
            self.plates.append(plate_read_of(notice))
            return {PLATES} | self._plate_read(notice)
        return set()

    def apply_alarm(self, alarm: schema.Alarm) -> set[str]:
        """An alarm point as `alarms.ack`/`alarms.shelve` answered: its view, its history kept."""
        new = alarm_of(alarm)
        old = next((a for a in self.status.alarms if a.id == new.id), None)
        if old is not None:
            new = dataclasses.replace(new, history=old.history)
        return self._put(new)

    # ------------------------------------------------------------------ events
    def _remember(self, node: str, channel: str, value: float) -> None:
        points = self._history.get((node, channel))
        if points is None:
            points = self._history[(node, channel)] = deque(maxlen=self.history_points)
        points.append(value)

    def _reading(self, r: schema.ReadingNotice) -> set[str]:
        if r.value is None:
            return set()
        # the service names nodes by name in readings; match either
        node_id = next((n.id for n in self.status.nodes if r.node in (n.id, n.name)), r.node)
        nodes = list(self.status.nodes)
        index = next((i for i, n in enumerate(nodes) if n.id == node_id), None)
        node = (nodes[index] if index is not None  # a node whose readings arrive is paired
                else Node(id=node_id, name=node_id, paired=True))
        channels = list(node.channels)
        ci = next((i for i, c in enumerate(channels) if c.name == r.channel), None)
        old = channels[ci] if ci is not None else Channel(name=r.channel)
        new = dataclasses.replace(old, value=r.value, time=r.received_wall, unit=r.unit)
        if ci is None:
            channels.append(new)
        else:
            channels[ci] = new
        node = dataclasses.replace(node, channels=tuple(channels), online=True,
                                   last_seen=r.received_wall)
        if index is None:
            nodes.append(node)
        else:
            nodes[index] = node
        self.status = dataclasses.replace(self.status, nodes=tuple(nodes))
        self._remember(node_id, r.channel, r.value)
        return {NODES}

    def _transition(self, n: schema.AlarmNotice) -> set[str]:
        old = next((a for a in self.status.alarms if a.id == n.alarm_id), None)
        step = AlarmTransition(n.t, n.to_state, n.user, n.event)
        if old is None:
            alarm = Alarm(id=n.alarm_id, source=n.channel, rule=n.rule,
                          message=n.message or "", priority=n.priority, state=n.to_state,
                          value=n.value, since=n.t, severity=n.severity, history=(step,))
        else:  # keep what the view knew; the transition says what changed
            alarm = dataclasses.replace(
                old, state=n.to_state, history=(*old.history, step)[-20:],
                severity=n.severity, priority=n.priority, message=n.message or old.message,
                value=n.value if n.event in ("raise", "escalate") else old.value,
                since=n.t if n.event == "raise" else old.since,
                acked_by=n.user if n.event == "ack" else old.acked_by,
                shelve_reason=n.comment if n.event == "shelve" else old.shelve_reason)
        return self._put(alarm)

    def _put(self, alarm: Alarm) -> set[str]:
        others = [a for a in self.status.alarms if a.id != alarm.id]
        if alarm.state != "normal":
            others.append(alarm)
        self.status = dataclasses.replace(self.status, alarms=tuple(others))
        return {ALARMS}

    def _detection(self, d: schema.DetectionNotice) -> set[str]:
        cameras = list(self.status.cameras)
        index = next((i for i, c in enumerate(cameras) if c.name == d.camera), None)
        camera = cameras[index] if index is not None else Camera(name=d.camera)
        camera = dataclasses.replace(camera, last_detection=detection_of(d))
        if index is None:
            cameras.append(camera)
        else:
            cameras[index] = camera
        self.status = dataclasses.replace(self.status, cameras=tuple(cameras))
        return {CAMERAS}

    def _health(self, h: schema.HealthNotice) -> set[str]:
        """Health, store counters and node liveness/link stats ride the health event."""
        changed = {STORE}
        self.status = dataclasses.replace(self.status, store=store_of(h.store))
        if h.health is not None:
            self.status = dataclasses.replace(self.status, health=health_of(h.health))
            changed.add(HEALTH)
        for raw_node in h.nodes or []:
            changed |= self._node(node_of(raw_node))
        for name, plates in (h.plates or {}).items():
            changed |= self._plates(name, plates.state, plates.plates)
        return changed

    def _plate_read(self, notice: schema.PlateNotice) -> set[str]:
        """A plate read (its verdict; the text never leaves the service): one read more."""
        camera = next((c for c in self.status.cameras if c.name == notice.camera), None)
        if camera is None:
            return set()
        return self._plates(camera.name, "reading", camera.plate_reads + 1)

    def _plates(self, name: str, state: str, reads: int) -> set[str]:
        cameras = list(self.status.cameras)
        index = next((i for i, c in enumerate(cameras) if c.name == name), None)
        if index is None:
            return set()
        cameras[index] = dataclasses.replace(cameras[index], plate_reads=reads,
                                             plates=plates_cell(state, reads))
        self.status = dataclasses.replace(self.status, cameras=tuple(cameras))
        return {CAMERAS}

    def _node(self, node: Node) -> set[str]:
        nodes = list(self.status.nodes)
        index = next((i for i, n in enumerate(nodes) if n.id == node.id), None)
        if index is None:
            nodes.append(node)
        else:
            if not node.channels:  # a liveness/link update keeps the known channels
                node = dataclasses.replace(node, channels=nodes[index].channels)
            nodes[index] = node
        self.status = dataclasses.replace(self.status, nodes=tuple(nodes))
        return {NODES}


# ----------------------------------------------------------------------------- formatting
def sparkline(values: tuple[float, ...] | list[float], width: int) -> str:
    """The last `width` values as block characters, scaled between their min and max."""
    tail = list(values)[-width:] if width > 0 else []
    if not tail:
        return ""
    low, high = min(tail), max(tail)
    span = high - low
    top = len(SPARK_BLOCKS) - 1
    if span <= 0:
        return SPARK_BLOCKS[top // 2] * len(tail)
    return "".join(SPARK_BLOCKS[round((v - low) / span * top)] for v in tail)


def ago(then: float | None, now: float) -> str:
    """A short relative time: '4s', '3m', '2h', '5d' ago, or '—' for never."""
    if then is None:
        return "—"
    delta = max(0.0, now - then)
    if delta < 60:
        return f"{int(delta)}s"
    if delta < 3600:
        return f"{int(delta // 60)}m"
    if delta < 86400:
        return f"{int(delta // 3600)}h"
    return f"{int(delta // 86400)}d"


def format_value(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    return f"{text} {unit}".rstrip()


def sort_alarms(alarms: tuple[Alarm, ...] | list[Alarm], key: str = "priority") -> list[Alarm]:
    """Alarms needing action first, then by `key` (priority, time or source)."""
    urgency = {"urgent": 0, "high": 1, "medium": 2, "low": 3}
    state_rank = {s: i for i, s in enumerate(
        ("active_unack", "returned_unack", "active_ack", "shelved", "suppressed", "normal"))}

    def order(a: Alarm) -> tuple[Any, ...]:
        if key == "time":
            return (-(a.since or 0.0), a.id)
        if key == "source":
            return (a.source, a.id)
        return (state_rank.get(a.state, 9), urgency.get(a.priority, 9), -(a.since or 0.0), a.id)

    return sorted(alarms, key=order)


def filter_alarms(alarms: list[Alarm], text: str, state: str = "all") -> list[Alarm]:
    """Alarms whose id, source, message or priority contains `text`, in `state` ('all')."""
    needle = text.strip().lower()
    out = []
    for a in alarms:
        if state != "all" and a.state != state:
            continue
        hay = f"{a.id} {a.source} {a.message} {a.priority} {a.rule}".lower()
        if needle and needle not in hay:
            continue
        out.append(a)
    return out
