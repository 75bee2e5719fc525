"""The anomaly engine as the service runs it: every transition is a record and a live event.

The engine is a pure state machine; the desk feeds it readings and time, turns what comes
out into "alarm" records in the store and, once each is durable, notices for the control
socket's subscribers (under the record's sequence number), and
persists the learned state so baselines survive a restart. It runs on the service's loop
(one thread), so the engine needs no locking.

A configured node is watched as a whole: its own channel (the node's name) carries one
`missing` alarm that its channels' missing rules feed (the engine groups them), and the
desk adds the node's channels and port state to that alarm's detail, so a silent node is
one alarm (ISA-18.2 first-out), not one per channel.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from controller.anomaly.alarm import AlarmTransition, AlarmView
from controller.anomaly.engine import AnomalyEngine
from controller.atomic_file import write_atomic
from controller.config import AnomalyConfig, ChannelRulesConfig

log = logging.getLogger("alarms")

#: stores a record (kind, source, severity, body) and calls the last argument with its
#: sequence number once it is durable, or None when it was not stored
Recorder = Callable[[str, str, str, dict[str, Any], Callable[[int | None], None]], object]
#: a transition for subscribers: with its node detail and its record's sequence number;
#: called only once that record is durable (or known lost), maybe on the writer's thread
Notifier = Callable[[AlarmTransition, dict[str, Any] | None, int | None], None]
NodeDetail = Callable[[str], dict[str, Any]]  # node name -> its port state, for the detail

NODE_SEEN_EVERY_S = 1.0  # a reading counts as a sign of life at most this often per node

_SEVERITY_OF_EVENT = {"raise": "warning", "escalate": "critical"}


def with_defaults(cfg: AnomalyConfig, extra: dict[str, ChannelRulesConfig]) -> AnomalyConfig:
    """`cfg` plus rules for channels it does not name (the user's own entry always wins)."""
    channels = dict(extra)
    channels.update(cfg.channels)
    return replace(cfg, channels=channels)


def node_rules(names: list[str], missing_s: float) -> dict[str, ChannelRulesConfig]:
    """The node-level rule of each configured node: one `missing` alarm after `missing_s`
    without a reading or heartbeat (0 = none)."""
    if missing_s <= 0:
        return {}
    rule = ChannelRulesConfig(missing_s=missing_s, adaptive="off", priority="high")
    return dict.fromkeys(names, rule)


def node_alarm_message(detail: dict[str, Any]) -> str:
    """One line for a node alarm: what went silent with it and what its port says."""
    channels = list(detail.get("channels") or [])
    state = detail.get("state") or "silent"
    if channels:
        shown = ", ".join(c.partition("/")[2] or c for c in channels[:6])
        more = f" and {len(channels) - 6} more" if len(channels) > 6 else ""
        text = f"node {state}: {len(channels)} channel(s) silent ({shown}{more})"
    else:
        text = f"node {state}: nothing heard from it"
    error = detail.get("last_error")
    if error and state in ("absent", "failing"):
        text += f"; port {detail.get('port')}: {error}"
    return text


class AlarmDesk:
    def __init__(
        self,
        engine: AnomalyEngine,
        record: Recorder,
        notify: Notifier,
        state_file: Path | None = None,
        nodes: list[str] | None = None,
        node_detail: NodeDetail | None = None,
        attest: Callable[[bytes], bool] | None = None,
        trusted: bool = True,
    ) -> None:
        self.engine = engine
        self._record = record
        self._notify = notify
        self._state_file = state_file
        self._nodes = frozenset(nodes or ())
        self._node_detail = node_detail
        self._node_seen: dict[str, float] = {}
        self._details: dict[str, dict[str, Any]] = {}  # alarm id -> detail of its episode
        self._attest = attest  # records the digest of each save in the chain first
        if state_file is not None and state_file.exists() and trusted:
            try:
                engine.load_state(json.loads(state_file.read_text(encoding="utf-8")))
                log.info("learned anomaly state restored from %s", state_file)
            except (OSError, ValueError) as exc:
                # a damaged state file costs a new warm-up, not the service
                log.warning("%s: cannot restore learned state (%s); learning anew",
                            state_file, exc)

    # ------------------------------------------------------------------ inputs
    def observe(self, channel: str, t: float, value: float) -> None:
        self._emit(self.engine.observe(channel, t, value))
        node = channel.partition("/")[0]
        if node in self._nodes and t - self._node_seen.get(node, -1e18) >= NODE_SEEN_EVERY_S:
            self._node_seen[node] = t
            self._emit(self.engine.heartbeat(node, t))

    def heartbeat(self, node: str, t: float) -> None:
        self._emit(self.engine.heartbeat(node, t))

    def tick(self, t: float) -> None:
        self._emit(self.engine.tick(t))

    def acknowledge(self, alarm_id: str, user: str, t: float, comment: str = "") -> None:
        self._emit(self.engine.acknowledge(alarm_id, user, t, comment))

    def shelve(self, alarm_id: str, user: str, t: float, until_t: float, reason: str) -> None:
        self._emit(self.engine.shelve(alarm_id, user, t, until_t, reason))

    # ------------------------------------------------------------------ outputs
    def points(self) -> list[tuple[AlarmView, dict[str, Any] | None]]:
        """Every alarm point not normal, with its node detail (status lists them)."""
        return [(v, self._detail_of(v)) for v in self.engine.alarms()]

    def point(self, alarm_id: str) -> tuple[AlarmView, dict[str, Any] | None]:
        """One alarm point (after an ack or shelve); AlarmActionError when unknown."""
        v = self.engine.alarm(alarm_id)
        return v, self._detail_of(v)

    def _detail_of(self, v: AlarmView) -> dict[str, Any] | None:
        detail = self._details.get(v.alarm_id)
        if detail is None and v.rule == "missing" and v.channel in self._nodes:
            # an alarm restored from the saved state: described as the node is now
            detail = self._node_alarm_detail(v.channel)
        return detail

    def save(self) -> None:
        if self._state_file is None:
            return
        data = json.dumps(self.engine.save_state()).encode("utf-8")
        if self._attest is not None and not self._attest(data):
            # the old file still matches the last digest recorded: keep it
            log.warning("%s: not saved, its digest could not be recorded", self._state_file)
            return
        write_atomic(self._state_file, data, 0o600)

    def _emit(self, transitions: list[AlarmTransition]) -> None:
        for tr in transitions:
            body = tr.to_record()
            detail = None
            if tr.rule == "missing" and tr.channel in self._nodes:
                if tr.event in ("raise", "escalate") or tr.alarm_id not in self._details:
                    self._details[tr.alarm_id] = self._node_alarm_detail(tr.channel)
                detail = body["detail"] = self._details[tr.alarm_id]
                body["message"] = node_alarm_message(detail)
            severity = tr.severity if tr.event in ("raise", "escalate", "return") else "info"
            # subscribers hear it once its record is durable, under the record's number
            self._record("alarm", tr.channel, severity, body, self._notifier(tr, detail))
            log.log(logging.WARNING if tr.event in _SEVERITY_OF_EVENT else logging.INFO,
                    "%s %s %s -> %s (value %s)", tr.alarm_id, tr.event, tr.from_state,
                    tr.to_state, tr.value)

    def _notifier(self, tr: AlarmTransition,
                  detail: dict[str, Any] | None) -> Callable[[int | None], None]:
        def stored(seq: int | None) -> None:
            self._notify(tr, detail, seq)
        return stored

    def _node_alarm_detail(self, node: str) -> dict[str, Any]:
        """What a node alarm says: the node's channels that went silent with it, its port."""
        prefix = node + "/"
        detail: dict[str, Any] = {
            "node": node,
            "channels": [c for c in self.engine.channels() if c.startswith(prefix)],
        }
        if self._node_detail is not None:
            detail.update(self._node_detail(node))
        return detail

