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

from tui.model import (
    Alarm,
    AlarmTransition,
    Channel,
    Detection,
    Node,
    Status,
    _float,
    parse_alarm,
    parse_camera,
    parse_health,
    parse_node,
    parse_store,
)
from tui.plate_reads import PlateRead, parse_plate_notice

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

    def apply_event(self, event: Mapping[str, Any]) -> set[str]:
        """Fold one subscription event in; unknown events change nothing."""
        kind = event.get("event")
        if kind == "reading":
            return self._reading(event)
        if kind == "alarm":
            inner = event.get("alarm")
            return self._alarm(parse_alarm(inner if isinstance(inner, dict) else event))
        if kind == "detection":
            return self._detection(event)
        if kind == "health":
            return self._health(event)
        if kind == "plate":
            read = parse_plate_notice(event)
            if read is None:
                return set()
            self.plates.append(read)
            return {PLATES}
        if kind == "node":
            inner = event.get("node")
            return self._node(parse_node(inner if isinstance(inner, dict) else event))
        return set()

    # ------------------------------------------------------------------ events
    def _remember(self, node: str, channel: str, value: float) -> None:
        points = self._history.get((node, channel))
        if points is None:
            points = self._history[(node, channel)] = deque(maxlen=self.history_points)
        points.append(value)

    def _reading(self, event: Mapping[str, Any]) -> set[str]:
        node_id = event.get("node")
        name = event.get("channel")
        if isinstance(node_id, str):  # the service names nodes by name; match either
            node_id = next((n.id for n in self.status.nodes if node_id in (n.id, n.name)),
                           node_id)
        value = _float(event.get("value"))
        if not isinstance(node_id, str) or not isinstance(name, str) or value is None:
            return set()
        when = _float(event.get("time"), _float(event.get("received_wall")))
        unit = event.get("unit")
        nodes = list(self.status.nodes)
        index = next((i for i, n in enumerate(nodes) if n.id == node_id), None)
        node = (nodes[index] if index is not None  # a node whose readings arrive is paired
                else Node(id=node_id, name=node_id, paired=True))
        channels = list(node.channels)
        ci = next((i for i, c in enumerate(channels) if c.name == name), None)
        old = channels[ci] if ci is not None else Channel(name=name)
        new = dataclasses.replace(
            old, value=value, time=when, unit=unit if isinstance(unit, str) else old.unit
        )
        if ci is None:
            channels.append(new)
        else:
            channels[ci] = new
        node = dataclasses.replace(
            node, channels=tuple(channels), online=True,
            last_seen=when if when is not None else node.last_seen,
        )
        if index is None:
            nodes.append(node)
        else:
            nodes[index] = node
        self.status = dataclasses.replace(self.status, nodes=tuple(nodes))
        self._remember(node_id, name, value)
        return {NODES}

    def _alarm(self, alarm: Alarm) -> set[str]:
        old = next((a for a in self.status.alarms if a.id == alarm.id), None)
        if alarm.rule_event and old is not None:  # a transition: keep what the view knew
            step = AlarmTransition(alarm.since or 0.0, alarm.state, alarm.user_of_change,
                                   alarm.rule_event)
            alarm = dataclasses.replace(
                old, state=alarm.state, history=(*old.history, step)[-20:],
                value=alarm.value if alarm.rule_event in ("raise", "escalate") else old.value,
                since=alarm.since if alarm.rule_event == "raise" else old.since,
            )
        others = [a for a in self.status.alarms if a.id != alarm.id]
        if alarm.state != "normal":
            others.append(alarm)
        self.status = dataclasses.replace(self.status, alarms=tuple(others))
        return {ALARMS}

    def _detection(self, event: Mapping[str, Any]) -> set[str]:
        name = event.get("camera")
        if not isinstance(name, str):
            return set()
        detection = Detection(
            time=_float(event.get("time"), 0.0) or 0.0,
            label=str(event.get("label", "?")),
            score=_float(event.get("score")),
        )
        cameras = list(self.status.cameras)
        index = next((i for i, c in enumerate(cameras) if c.name == name), None)
        camera = cameras[index] if index is not None else parse_camera({"name": name})
        camera = dataclasses.replace(camera, last_detection=detection)
        if index is None:
            cameras.append(camera)
        else:
            cameras[index] = camera
        self.status = dataclasses.replace(self.status, cameras=tuple(cameras))
        return {CAMERAS}

    def _health(self, event: Mapping[str, Any]) -> set[str]:
        """Health, store counters and node liveness/link stats ride the health event."""
        changed: set[str] = set()
        health = event.get("health")
        if isinstance(health, dict) or "cpu_temp_c" in event:
            raw = health if isinstance(health, dict) else event
            self.status = dataclasses.replace(self.status, health=parse_health(raw))
            changed.add(HEALTH)
        if isinstance(event.get("store"), dict):
            self.status = dataclasses.replace(self.status, store=parse_store(event["store"]))
            changed.add(STORE)
        nodes = event.get("nodes")
        for raw_node in nodes if isinstance(nodes, list) else []:
            changed |= self._node(parse_node(raw_node))
        return changed

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
