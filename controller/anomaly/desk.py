"""The anomaly engine as the service runs it: every transition is a record and a live event.

The engine is a pure state machine; the desk feeds it readings and time, turns what comes
out into "alarm" records in the store and "alarm" events on the control socket, and
persists the learned state so baselines survive a restart. It runs on the service's loop
(one thread), so the engine needs no locking.
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

Recorder = Callable[[str, str, str, dict[str, Any]], object]
Publisher = Callable[[str, Any], None]

_SEVERITY_OF_EVENT = {"raise": "warning", "escalate": "critical"}


def with_defaults(cfg: AnomalyConfig, extra: dict[str, ChannelRulesConfig]) -> AnomalyConfig:
    """`cfg` plus rules for channels it does not name (the user's own entry always wins)."""
    channels = dict(extra)
    channels.update(cfg.channels)
    return replace(cfg, channels=channels)


def view_to_json(v: AlarmView) -> dict[str, Any]:
    return {
        "id": v.alarm_id,
        "channel": v.channel,
        "rule": v.rule,
        "state": str(v.state),
        "condition": v.condition,
        "severity": v.severity,
        "priority": v.priority,
        "value": v.trigger_value,
        "since": v.trigger_t,
        "peak": v.peak_value,
        "acked_by": v.acked_by or None,
        "acked_at": v.acked_t,
        "comment": v.ack_comment or None,
        "shelved_by": v.shelved_by or None,
        "shelved_until": v.shelved_until,
        "shelve_reason": v.shelve_reason or None,
        "suppressed": v.suppress_reason or None,
        "chatter_per_hour": v.chatter_per_hour,
        "chattering": v.chattering,
    }


class AlarmDesk:
    def __init__(
        self,
        engine: AnomalyEngine,
        record: Recorder,
        publish: Publisher,
        state_file: Path | None = None,
    ) -> None:
        self.engine = engine
        self._record = record
        self._publish = publish
        self._state_file = state_file
        if state_file is not None and state_file.exists():
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

    def heartbeat(self, node: str, t: float) -> None:
        self._emit(self.engine.heartbeat(node, t))

    def tick(self, t: float) -> None:
        self._emit(self.engine.tick(t))

    def acknowledge(self, alarm_id: str, user: str, t: float, comment: str = "") -> None:
        self._emit(self.engine.acknowledge(alarm_id, user, t, comment))

    def shelve(self, alarm_id: str, user: str, t: float, until_t: float, reason: str) -> None:
        self._emit(self.engine.shelve(alarm_id, user, t, until_t, reason))

    # ------------------------------------------------------------------ outputs
    def views(self) -> list[dict[str, Any]]:
        return [view_to_json(v) for v in self.engine.alarms()]

    def save(self) -> None:
        if self._state_file is None:
            return
        write_atomic(self._state_file, json.dumps(self.engine.save_state()).encode("utf-8"),
                     0o600)

    def _emit(self, transitions: list[AlarmTransition]) -> None:
        for tr in transitions:
            body = tr.to_record()
            severity = tr.severity if tr.event in ("raise", "escalate", "return") else "info"
            self._record("alarm", tr.channel, severity, body)
            self._publish("alarm", body)
            log.log(logging.WARNING if tr.event in _SEVERITY_OF_EVENT else logging.INFO,
                    "%s %s %s -> %s (value %s)", tr.alarm_id, tr.event, tr.from_state,
                    tr.to_state, tr.value)

