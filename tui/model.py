"""Typed models of the control-socket payloads the TUI consumes.

`status`, the live events and the answers to `alarms.ack`/`alarms.shelve` are read
through the shared schema (controller.control.schema), each field by its one name: a
payload of another shape (a service of another release) is one clear line
(:class:`StatusMismatch`, `schema.EventMismatch`), not a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from controller.control.roles import Role as Role  # one definition; screens import it here

if TYPE_CHECKING:  # msgspec loads when the first status is read, not at start
    from controller.control import schema


# ----------------------------------------------------------------------------- helpers
def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _float(value: Any, default: float | None = None) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value)


def _bool(value: Any, default: bool = False) -> bool:
    return value if isinstance(value, bool) else default


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# ----------------------------------------------------------------------------- status parts
@dataclass(frozen=True)
class Channel:
    name: str
    unit: str = ""
    value: float | None = None
    time: float | None = None


@dataclass(frozen=True)
class LinkStats:
    """Frames accepted and rejected on one node's serial link, rejected counted by reason."""

    frames_ok: int = 0
    rejected: Mapping[str, int] = field(default_factory=dict)
    lost_frames: int = 0  # counter gaps since start
    lag_ms: float | None = None  # the smallest recent lag of the node's frames
    problems: tuple[str, ...] = ()  # why the link is suspect now, in words (service's)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    online: bool = False
    uid: str = ""  # the node's unique id (its USB serial): what the user checks on pairing
    port: str = ""
    state: str = ""  # online | offline | unpaired | absent | failing | silent (service's)
    last_error: str = ""  # of its port, when it cannot be opened or read
    paired: bool = False
    last_seen: float | None = None
    firmware: str = ""
    sample_rate_hz: float | None = None
    channels: tuple[Channel, ...] = ()
    link: LinkStats = field(default_factory=LinkStats)


@dataclass(frozen=True)
class AlarmTransition:
    time: float
    state: str
    user: str = ""
    event: str = ""


@dataclass(frozen=True)
class Alarm:
    """One alarm in its ISA-18.2 life cycle."""

    id: str
    source: str
    rule: str = ""
    message: str = ""
    priority: str = "medium"
    state: str = "normal"
    value: float | None = None
    since: float | None = None
    shelved_until: float | None = None
    chattering: bool = False
    severity: str = ""
    acked_by: str = ""
    shelve_reason: str = ""
    history: tuple[AlarmTransition, ...] = ()

    @property
    def needs_ack(self) -> bool:
        return self.state in ("active_unack", "returned_unack")

    @property
    def active(self) -> bool:
        return self.state in ("active_unack", "active_ack")


ALARM_STATES = ("active_unack", "active_ack", "returned_unack", "shelved", "suppressed", "normal")
PRIORITIES = ("urgent", "high", "medium", "low")


@dataclass(frozen=True)
class Detection:
    time: float
    label: str
    score: float | None = None


@dataclass(frozen=True)
class Camera:
    name: str
    state: str = "unknown"
    last_detection: Detection | None = None
    media_bytes: int | None = None  # media stored for this camera
    days_held: float | None = None  # days of footage its budget holds at the current rate
    plates: str | None = None  # a plate camera's reads ("3 reads", "loading"); None: no plates
    plate_reads: int = 0


@dataclass(frozen=True)
class Health:
    cpu_temp_c: float | None = None
    throttled: bool = False
    throttle_flags: tuple[str, ...] = ()
    cpu_pct: float | None = None
    memory_used_pct: float | None = None
    disk_free_mb: float | None = None
    disk_total_mb: float | None = None
    dropped: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkpoint:
    """The store's latest signed checkpoint, as `status` reports it."""

    seal: int
    record: int
    head: str
    time: float | None = None


@dataclass(frozen=True)
class StoreInfo:
    records: int = 0
    sealed: int = 0
    epoch: int | None = None
    verification_key_fingerprint: str = ""
    # "ok", "full" (only alarms and audit stored) or "failing"; `failure` says why
    state: str = "ok"
    failure: str = ""
    not_stored: int = 0
    checkpoint: Checkpoint | None = None  # the latest signed head (keep it off the device)


@dataclass(frozen=True)
class Status:
    """Everything the dashboard shows; what `status` returns and events keep up to date."""

    user: str = ""
    role: Role = Role.NONE
    device: str = ""
    time: float | None = None
    nodes: tuple[Node, ...] = ()
    alarms: tuple[Alarm, ...] = ()
    cameras: tuple[Camera, ...] = ()
    health: Health = field(default_factory=Health)
    store: StoreInfo = field(default_factory=StoreInfo)
    forwarder: schema.Forwarder | None = None  # its last report (None: none reports)


# ----------------------------------------------------------------------------- history
@dataclass(frozen=True)
class EventMeta:
    """The plaintext metadata of one stored record (everything else is ciphertext)."""

    id: int
    time: float
    kind: str
    source: str = ""
    severity: str = ""
    epoch: int | None = None
    seal: str = "unknown"


@dataclass(frozen=True)
class AuditEntry:
    """One audit record after decryption: who did what."""

    id: int
    time: float
    uid: int | None
    user: str
    command: str
    ok: bool
    detail: str = ""
    # every field of the record, as text, for the row's full view
    fields: tuple[tuple[str, str], ...] = ()


# ----------------------------------------------------------------------------- parsers
def channel_histories(raw: Any) -> dict[tuple[str, str], list[float]]:
    """Recent values per (node, channel) from the status ``channels[].history``."""
    out: dict[tuple[str, str], list[float]] = {}
    for c in _list(_dict(raw).get("channels")):
        cd = _dict(c)
        values = [v for v in (_float(x) for x in _list(cd.get("history"))) if v is not None]
        if values:
            out[(_str(cd.get("node")), _str(cd.get("channel")))] = values
    return out


class StatusMismatch(ValueError):
    """The service's status is not the shape this client's schema names (another release)."""


def parse_status(raw: Any) -> Status:
    """The service's `status`, typed by the shared schema; one clear line when it differs."""
    from controller.control import schema

    return _status_of(schema.decode_as(raw, schema.Status, "status", StatusMismatch))


def _status_of(s: Any) -> Status:
    """The dashboard's model from a typed `schema.Status` (read by field, nothing guessed)."""
    by_node: dict[str, list[Channel]] = {}
    for c in s.channels:
        by_node.setdefault(c.node, []).append(
            Channel(name=c.channel, unit=c.unit, value=c.value, time=c.t))
    nodes = [node_of(n, tuple(by_node.pop(n.name, by_node.pop(n.id, [])))) for n in s.nodes]
    nodes += [Node(id=name, name=name, online=True, paired=True, channels=tuple(chs))
              for name, chs in by_node.items()]
    cameras = tuple(Camera(
        name=c.name, state={"up": "running"}.get(c.state, c.state),
        last_detection=None if c.last_detection is None else detection_of(c.last_detection),
        media_bytes=c.media.stored_bytes if c.media else None,
        days_held=c.media.days_held if c.media else None,
        plates=None if c.plates is None else plates_cell(c.plates.state, c.plates.plates),
        plate_reads=0 if c.plates is None else c.plates.plates)
        for c in s.cameras)
    return Status(
        user=f"uid {s.you.uid}", role=Role.parse(s.you.role), device=s.device, time=s.time,
        nodes=tuple(nodes), alarms=tuple(alarm_of(a) for a in s.alarms), cameras=cameras,
        health=health_of(s.health), store=store_of(s.store),
        forwarder=s.forwarder,
    )


def node_of(n: Any, channels: tuple[Channel, ...] = ()) -> Node:
    """A `schema.Node` (from status or a health event) as the dashboard's node."""
    link = n.link
    return Node(
        id=n.id, name=n.name, online=n.online, uid=n.uid or "", port=n.port,
        state=n.state, last_error=n.last_error or "", paired=n.paired,
        last_seen=n.last_seen, firmware=n.firmware, sample_rate_hz=n.sample_rate_hz,
        channels=channels,
        link=LinkStats(frames_ok=n.frames_ok, rejected=dict(n.rejected),
                       lost_frames=link.lost_frames if link else 0,
                       lag_ms=link.lag_ms if link else None,
                       problems=tuple(link.problems) if link else ()))


def alarm_of(a: Any) -> Alarm:
    """A `schema.Alarm` (status, or the answer to an ack or shelve) as the dashboard's."""
    return Alarm(
        id=a.id, source=a.channel, rule=a.rule, message=a.message or "", priority=a.priority,
        state=a.state, value=a.value, since=a.since, shelved_until=a.shelved_until,
        chattering=a.chattering, severity=a.severity, acked_by=a.acked_by or "",
        shelve_reason=a.shelve_reason or "")


def plates_cell(state: str, reads: int) -> str:
    """"3 reads" for a camera reading plates, else its plate state ("loading")."""
    if state != "reading":
        return state
    return f"{reads} read{'' if reads == 1 else 's'}"


def detection_of(d: Any) -> Detection:
    """A `schema.Detection` (a camera's last one, or a live notice)."""
    return Detection(time=d.time, label=d.label, score=d.score)


def store_of(st: Any) -> StoreInfo:
    """A `schema.Store` (status, or a health event) as the dashboard's store panel."""
    cp = st.checkpoint
    return StoreInfo(
        records=st.records, sealed=st.sealed, epoch=st.epoch,
        verification_key_fingerprint=st.verification_key_fingerprint or "",
        state=st.state, failure=st.failure or "", not_stored=st.not_stored,
        checkpoint=None if cp is None else Checkpoint(
            seal=cp.seal, record=cp.record, head=cp.head, time=cp.time))


def health_of(h: Any) -> Health:
    if h is None:
        return Health()
    mb = 1024 * 1024
    flags = tuple(h.throttling.problems()) if h.throttling is not None else ()
    fs = h.filesystems[0] if h.filesystems else None
    return Health(
        cpu_temp_c=h.cpu_temp_c, throttled=bool(flags), throttle_flags=flags,
        cpu_pct=h.cpu_percent,
        memory_used_pct=100.0 * (1 - h.memory_available_bytes / h.memory_total_bytes)
        if h.memory_total_bytes else None,
        disk_free_mb=fs.free_bytes / mb if fs else None,
        disk_total_mb=fs.total_bytes / mb if fs else None)


def event_metas(headers: Any) -> tuple[EventMeta, ...]:
    """`events.list` items (schema.EventHeader) as the events screen's rows."""
    return tuple(EventMeta(id=h.id, time=h.time, kind=h.kind, source=h.source,
                           severity=h.severity, epoch=h.epoch) for h in headers)


# what the columns show already; the rest of a record is its detail
AUDIT_COLUMNS = frozenset({"cmd", "action", "user", "uid", "ok", "detail", "outcome"})


def audit_value(value: Any) -> str:
    """A record field as text: nested objects as `key value, ...`, nothing as ''."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {audit_value(v)}" for k, v in value.items()
                         if audit_value(v) != "")
    if isinstance(value, list | tuple):
        return ", ".join(audit_value(v) for v in value)
    return str(value)


def uid_name(uid: int) -> str:
    """'alice(1000)' as the service names people, or 'uid 1000' when this host does not."""
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name}({uid})"
    except (KeyError, OverflowError):
        return f"uid {uid}"


def parse_audit_entry(meta: EventMeta, content: Mapping[str, Any]) -> AuditEntry:
    """A control request (`cmd`, by `user`) or the service's own record (`action`, maybe
    `by` a uid): both name who and what; the detail is the reason or what it was about."""
    uid = content.get("uid")
    by = content.get("by")
    user = _str(content.get("user"))
    if not user and isinstance(by, int) and not isinstance(by, bool):
        user = uid_name(by)
    ok = content.get("ok")
    outcome = content.get("outcome")
    detail = _str(content.get("detail"))
    if not detail:
        detail = audit_value({k: v for k, v in content.items() if k not in AUDIT_COLUMNS})
    return AuditEntry(
        id=meta.id,
        time=meta.time,
        uid=_int(uid) if _float(uid) is not None else None,
        user=user or meta.source or "?",
        command=_str(content.get("cmd")) or _str(content.get("action"), "?"),
        ok=ok if isinstance(ok, bool) else outcome in (None, "ok", "applied"),
        detail=detail,
        fields=tuple((str(k), audit_value(v)) for k, v in content.items()),
    )
