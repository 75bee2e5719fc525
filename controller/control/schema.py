"""The typed payloads of the control socket, shared by the service, its clients and doubles.

Every Struct forbids unknown fields: a test decodes the real service's answers with these
types (strict), so a field the service adds or drops without the schema fails there, and
the test doubles built from the same types cannot drift from the service. msgspec is
imported only by the modules that read or build these payloads. Live events are built as
these Structs by the service (controller.service.notices); status is still assembled as
dicts there, which the schema describes.
"""

from __future__ import annotations

from typing import Any

import msgspec


class _Payload(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base: keyword-only, unknown fields refused."""


# --------------------------------------------------------------------------- nodes
class NodeLink(_Payload):
    lost_frames: int
    lost_frames_window: int
    lag_ms: float | None
    forged_frames_window: int
    problems: list[str]


class Node(_Payload, omit_defaults=True):
    """A node the link heard (with `link`), or a configured node it has not heard."""

    id: str
    name: str
    uid: str | None
    port: str
    state: str
    online: bool
    paired: bool
    last_seen: float | None
    frames_ok: int
    readings: int
    rejected: dict[str, int]
    firmware: str
    sample_rate_hz: float | None
    port_state: str | None
    last_error: str | None
    link: NodeLink | None = None  # only for a node the link heard


class Port(_Payload):
    path: str
    open: bool
    reopens: int
    frame_errors: dict[str, int]
    last_error: str


class Channel(_Payload):
    key: str
    node: str
    channel: str
    unit: str
    value: float
    t: float
    history: list[float]
    score: float


# -------------------------------------------------------------------------- alarms
class AlarmDetail(_Payload, omit_defaults=True):
    """What a node alarm says: the channels that went silent with it, and its port."""

    node: str
    channels: list[str]
    state: str | None = None
    port: str | None = None
    port_state: str | None = None
    last_error: str | None = None


class Alarm(_Payload):
    id: str
    channel: str
    rule: str
    state: str
    condition: bool
    severity: str
    priority: str
    value: float | None
    since: float | None
    peak: float | None
    acked_by: str | None
    acked_at: float | None
    comment: str | None
    shelved_by: str | None
    shelved_until: float | None
    shelve_reason: str | None
    suppressed: str | None
    chatter_per_hour: int
    chattering: bool
    detail: AlarmDetail | None
    message: str | None


# ------------------------------------------------------------------------- cameras
class Detection(_Payload):
    """A camera's last detection (the live "detection" notice)."""

    camera: str
    zone: str
    label: str
    track_id: int
    score: float
    time: float
    start: float
    continues: bool
    phase: str
    event_id: str


class Tamper(_Payload, omit_defaults=True):
    state: str  # "off", "learning" or "watching"
    active: list[str] | None = None  # absent when tamper detection is off


class Plates(_Payload):
    mode: str
    offered: int
    read: int
    dropped: int
    plates: int
    failed: int


class Media(_Payload):
    stored_bytes: int
    bytes_per_hour: int
    budget_bytes: int
    budget_from: str
    days_held: float | None


class Camera(_Payload, omit_defaults=True):
    name: str
    source: str
    state: str  # "up", "down" or "ended"
    reason: str | None
    frames: int
    dropped: int
    reopen_attempts: int
    detector: str
    detector_runs: int | None
    last_detection: Detection | None
    recording: str
    tamper: Tamper
    codec: str | None
    plates: Plates | None
    media: Media | None = None  # only when the store is open


# -------------------------------------------------------------------------- health
class Filesystem(_Payload):
    path: str
    device: str | None
    total_bytes: int
    free_bytes: int
    on_sd_card: bool


class Throttling(_Payload):
    raw: int
    under_voltage_now: bool
    freq_capped_now: bool
    throttled_now: bool
    soft_temp_limit_now: bool
    under_voltage_occurred: bool
    freq_capped_occurred: bool
    throttled_occurred: bool
    soft_temp_limit_occurred: bool


class Health(_Payload):
    time: float
    load_1m: float
    load_5m: float
    load_15m: float
    cpu_count: int
    cpu_percent: float | None
    cpu_temp_c: float | None
    memory_total_bytes: int
    memory_available_bytes: int
    swap_used_bytes: int
    uptime_s: float
    filesystems: list[Filesystem]
    throttling: Throttling | None


# --------------------------------------------------------------------------- store
class Checkpoint(_Payload):
    file: str
    seal: int
    record: int
    epoch: int
    time: float
    head: str
    text: str | None


class Store(_Payload):
    records: int
    sealed: int
    seals: int
    verification_key_fingerprint: str | None
    committed_since_start: int
    batches: int
    epoch: int | None
    pending: int
    dropped_no_space: int
    dropped_queue_full: int
    shed_media_files: int
    shed_readings: int
    not_stored: int
    failed_commits: int
    state: str  # "ok", "full", "failing" or "closed"
    failure: str | None
    failing_since: float | None
    reserve_bytes: int
    checkpoint: Checkpoint | None


# ------------------------------------------------------------------- the rest
class ControlQueue(_Payload):
    clients: int
    subscribers: int
    events_published: int
    events_dropped: int
    clients_refused: int
    queue_size: int
    backlog: int


class Queues(_Payload):
    readings_dropped: int
    control: ControlQueue


class Forwarder(_Payload):
    """The MQTT forwarder's last `forward.report`."""

    connected: bool
    outbox: int
    last_error: str | None
    published: int | None
    gaps: int | None
    broker: str | None
    uid: int
    time: float


class ConfigState(_Payload):
    path: str | None
    reloads: int
    last_error: str | None


class You(_Payload):
    """Who asked: the caller's uid and role (as the service names it)."""

    uid: int
    role: str


class Status(_Payload):
    """The answer to `status`: everything `edgewarden status` and the dashboard show."""

    state: str
    version: str
    device: str
    time: float
    uptime_s: float
    nodes: list[Node]
    ports: list[Port]
    channels: list[Channel]
    alarms: list[Alarm]
    cameras: list[Camera]
    health: Health | None
    store: Store
    queues: Queues
    forwarder: Forwarder | None
    config: ConfigState
    you: You


class EventHeader(_Payload):
    """One item of `events.list` (audit records are listed the same way): metadata only."""

    id: int
    time: float
    epoch: int
    kind: str
    source: str
    severity: str
    media: int


def to_wire(payload: msgspec.Struct) -> Any:
    """A payload as the plain JSON-able data the socket carries."""
    return msgspec.to_builtins(payload)


# ===================================================================== live events
# What a subscriber of `subscribe` receives: one Struct per event kind in
# controller.control.protocol.EVENT_KINDS. The service builds them (never a dict), the TUI,
# the forwarder and the test doubles decode them with `decode_event`. An alarm transition,
# a detection's start and a plate read carry `seq`: the sequence number of their record in
# the store (`events.list` lists it as `id`), sent only once that record is durable, so it
# is a stable message id; None when the record could not be stored. Readings and health
# have no record per notice: their only number is the stream's `seq` of the event message.
class ReadingNotice(_Payload):
    """One sensor reading as the link received it (every reading, not only stored ones)."""

    node_uid: str
    node: str
    channel: str
    value: float | None  # None: not a finite number
    unit: str
    node_time_ms: int
    received_wall: float
    received_mono: float
    counter: int


class AlarmNotice(_Payload):
    """One ISA-18.2 transition of one alarm point (raise, ack, shelve, return, ...)."""

    seq: int | None  # the transition's `alarm` record
    t: float
    alarm_id: str
    channel: str
    rule: str
    event: str
    from_state: str
    to_state: str
    severity: str
    priority: str
    value: float | None
    score: float
    user: str
    comment: str
    chatter_per_hour: int
    detail: AlarmDetail | None  # a node alarm: what went silent with it
    message: str | None


class DetectionNotice(Detection):
    """A detection event starting, going on or ending (`phase` start, update, end)."""

    seq: int | None  # the `event` record of a start; None for update and end (no record)


class PlateNotice(_Payload):
    """A plate read and the register's verdict; never the plate text (it stays inside
    the encrypted record)."""

    seq: int | None  # the `plate` record
    camera: str
    track_id: int
    label: str
    time: float
    first_seen: float
    confidence: float
    agreeing: int
    list: str | None  # allow, watch, deny; None: on no list
    entry: str | None  # the register entry's label
    priority: str | None


class HealthNotice(_Payload):
    """The device's health sample with the store and the nodes (the dashboard's panels),
    or only the store when its state changed between samples."""

    health: Health | None
    store: Store
    nodes: list[Node] | None


Notice = ReadingNotice | AlarmNotice | DetectionNotice | PlateNotice | HealthNotice
NOTICE_TYPES: dict[str, type[Notice]] = {
    "reading": ReadingNotice, "alarm": AlarmNotice, "detection": DetectionNotice,
    "plate": PlateNotice, "health": HealthNotice,
}


class EventMismatch(ValueError):
    """A live event that is not the shape this client's schema names (another release)."""


def decode_event(kind: str, data: Any) -> Notice:
    """The typed notice of one event; :class:`EventMismatch` (one line) when it differs."""
    cls = NOTICE_TYPES.get(kind)
    if cls is None:
        raise EventMismatch(f"the service sent an event of unknown kind {kind!r}: "
                            "run a client and service of the same release")
    try:
        return msgspec.convert(data, cls)
    except msgspec.ValidationError as exc:
        raise EventMismatch(f"the service's {kind} event does not match this client "
                            f"({exc}): run a client and service of the same release") from None


def decode_alarm_reply(data: Any) -> Alarm:
    """The answer to `alarms.ack` and `alarms.shelve`: the point's `Alarm` after the action."""
    try:
        return msgspec.convert(data, Alarm)
    except msgspec.ValidationError as exc:
        raise EventMismatch(f"the service's alarm reply does not match this client "
                            f"({exc}): run a client and service of the same release") from None
