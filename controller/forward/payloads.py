"""What the forwarder publishes: one typed structure per message kind, JSON on the wire.

The forwarder encodes with these types and subscribers (the tests, a consumer written in
Python) decode with the same ones, so the wire format is defined once. Every payload has
`schema` (its version) and `kind`; messages that come from a service event carry `id`,
stable across restarts so a consumer drops duplicates: an alarm transition, a detection's
start and a plate read are named by their record's sequence number in the device's store
(decimal, the `id` of `events.list`), everything else by "<stream>:<seq>" of the service's
notification stream (controller.forward.translate.message_id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

SCHEMA_VERSION = 2  # 2: record sequence numbers as ids; detections say phase, event_id


class PayloadError(ValueError):
    """A payload that is not one of ours (bad JSON, unknown kind or schema, wrong keys)."""


@dataclass(frozen=True)
class AlarmTransition:
    """One alarm life-cycle step: raise, ack, shelve, return, clear, escalate, ..."""

    kind: ClassVar[str] = "alarm"
    id: str
    alarm: str
    channel: str
    rule: str
    event: str
    from_state: str
    state: str
    severity: str
    priority: str
    value: float | None
    t: float
    user: str = ""
    comment: str = ""
    message: str | None = None


@dataclass(frozen=True)
class AlarmPointState:
    """The current state of one alarm point (retained): what a dashboard shows now."""

    kind: ClassVar[str] = "alarm_state"
    id: str
    alarm: str
    channel: str
    rule: str
    state: str
    active: bool  # the point needs attention: not normal (and not merely shelved)
    severity: str
    priority: str
    value: float | None
    t: float | None
    acked_by: str | None = None
    shelved_until: float | None = None


@dataclass(frozen=True)
class Detection:
    """A detector event (label, score, camera, zone, time); no image unless configured."""

    kind: ClassVar[str] = "detection"
    id: str
    camera: str
    zone: str | None
    label: str
    score: float
    t: float
    start: float | None = None
    track_id: int | None = None
    phase: str | None = None  # start, update, end
    event_id: str | None = None  # shared by an event's notices and its records
    snapshot_b64: str | None = None


@dataclass(frozen=True)
class PlateRead:
    """One vehicle's plate read and the register's verdict; never the plate text (it
    stays inside the device's encrypted record) and no image."""

    kind: ClassVar[str] = "plate"
    id: str
    camera: str
    label: str
    t: float
    confidence: float
    agreeing: int
    list: str | None  # allow, watch, deny; None: on no list
    entry: str | None = None  # the register entry's label
    priority: str | None = None
    track_id: int | None = None


@dataclass(frozen=True)
class SensorValue:
    """The latest value of one sensor channel (retained, rate-limited per channel)."""

    kind: ClassVar[str] = "reading"
    id: str
    node: str
    channel: str
    value: float | None
    unit: str
    t: float


@dataclass(frozen=True)
class Health:
    """Device health: the service's health sample as it sent it (retained)."""

    kind: ClassVar[str] = "health"
    id: str
    t: float | None
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeLink:
    """A sensor node's link state (retained): online, offline, silent, absent, ..."""

    kind: ClassVar[str] = "node_link"
    id: str
    node: str
    state: str
    port: str | None
    last_seen: float | None


@dataclass(frozen=True)
class Gap:
    """Notifications the forwarder could not get: never skipped silently.

    `missing` is how many (None: unknown, the service restarted); `after` is the last
    sequence held of stream `stream` (the old one when the service restarted)."""

    kind: ClassVar[str] = "gap"
    id: str
    stream: str | None
    after: int
    missing: int | None
    reason: str


@dataclass(frozen=True)
class CommandResult:
    """The answer to an inbound command (ack, shelve) or its refusal."""

    kind: ClassVar[str] = "command_result"
    id: str
    command: str
    alarm: str | None
    ok: bool
    reason: str


Payload = (AlarmTransition | AlarmPointState | Detection | PlateRead | SensorValue | Health
           | NodeLink | Gap | CommandResult)
PAYLOAD_TYPES: dict[str, type[Payload]] = {
    t.kind: t for t in (AlarmTransition, AlarmPointState, Detection, PlateRead, SensorValue,
                        Health, NodeLink, Gap, CommandResult)
}


def encode(payload: Payload) -> bytes:
    # vars(), not dataclasses.asdict(): no deep copy per message (fields are JSON values)
    body = {"schema": SCHEMA_VERSION, "kind": payload.kind, **vars(payload)}
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")


def decode(raw: bytes | str) -> Payload:
    """The typed payload of one message; raises :class:`PayloadError`."""
    try:
        obj = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise PayloadError("a payload is a JSON object")
    if obj.get("schema") != SCHEMA_VERSION:
        raise PayloadError(f"schema {obj.get('schema')!r} is not {SCHEMA_VERSION}")
    cls = PAYLOAD_TYPES.get(str(obj.get("kind")))
    if cls is None:
        raise PayloadError(f"unknown kind {obj.get('kind')!r}")
    fields = {k: v for k, v in obj.items() if k not in ("schema", "kind")}
    try:
        return cls(**fields)
    except TypeError as exc:
        raise PayloadError(f"{cls.kind}: {exc}") from None
