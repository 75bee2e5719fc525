"""The typed payloads of the control socket, shared by the service, its clients and doubles.

Every Struct forbids unknown fields. The service builds its status and its command
replies as these Structs and sends `to_wire(...)`; the TUI, the CLI and the clients decode
with them (`decode_reply`, `ControlClient.ask`: another shape is one `ReplyMismatch` line).
Live events are built as the notice Structs (controller.service.notices) and decoded with
`decode_event`. The test doubles build their answers from them, and a test decodes the real
service's answers and events strictly, so no side can drift. A change of shape bumps the
control protocol's version (`controller.control.protocol.PROTOCOL_VERSION`). msgspec is
imported only by the modules that read or build these payloads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, TypeVar

import msgspec

from controller.errors import EdgewardenError

T = TypeVar("T")


class _Payload(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base: keyword-only, unknown fields refused."""


class _Sample(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Base of a payload that is a measurement, never changed once taken."""


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
    state: str  # "loading" (the OCR models), "reading" or "unavailable" (see reason)
    reason: str | None
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
# The health sample is defined here once: `controller.service.health` reads it from the
# device and stores it as a record; `status` and the health notices carry it as it is.
class Filesystem(_Sample, frozen=True):
    """Free space of the filesystem holding `path` (`device` e.g. /dev/mmcblk0p2)."""

    path: str
    device: str | None
    total_bytes: int
    free_bytes: int
    on_sd_card: bool


class Throttling(_Sample, frozen=True):
    """The Pi firmware's throttle word decoded: what is wrong now, and since boot."""

    raw: int
    under_voltage_now: bool
    freq_capped_now: bool
    throttled_now: bool
    soft_temp_limit_now: bool
    under_voltage_occurred: bool
    freq_capped_occurred: bool
    throttled_occurred: bool
    soft_temp_limit_occurred: bool

    def problems(self) -> list[str]:
        """Names of the flags that are set (in field order), for a status line."""
        return [name for name in self.__struct_fields__[1:] if getattr(self, name)]


class Health(_Sample, frozen=True):
    """One reading of the device's health; `None` means "this device cannot tell"."""

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
    filesystems: tuple[Filesystem, ...]  # [0] is the data dir
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


RoleName = Literal["view", "ops", "admin"]


class You(_Payload):
    """Who asked: the caller's uid and role, by name (`controller.control.roles.Role`)."""

    uid: int
    role: RoleName


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


class RecordHeader(_Payload):
    """A stored record's plaintext metadata (its body is ciphertext)."""

    id: int
    time: float
    epoch: int
    kind: str
    source: str
    severity: str


class EventHeader(RecordHeader):
    """One item of `events.list` (audit records are listed the same way): metadata only."""

    media: int  # media files stored with the record


# ================================================================== command replies
# The answer of every other command in controller.control.commands' table: the service's
# handlers build these, clients decode with `decode_reply` (or `ControlClient.ask`).
class Reported(_Payload):
    """`forward.report`: the report was kept."""

    ok: bool


class ConfigText(_Payload):
    """`config.get`: the running config file and the effective settings (no secrets)."""

    path: str | None
    toml: str | None
    effective: dict[str, Any]


class ConfigCheck(_Payload):
    """`config.validate`: whether the candidate loads, else where and why not."""

    valid: bool
    error: str | None
    line: int | None
    key: str | None


class ConfigApplied(_Payload):
    """`config.apply`: the file written and the service reloaded from it."""

    applied: bool
    path: str


class SampleRateSet(_Payload):
    """`node.sample_rate`: the rate sent to the node."""

    node: str
    sample_rate_hz: float


class Paired(_Payload):
    """`pair`: the node that answered and took the key (`replaced_key`: the old key's
    fingerprint, when a paired node was given a new key)."""

    node: str
    uid: str
    port: str
    paired: bool
    replaced_key: str | None


class ExportEstimate(_Payload):
    """`export` with `estimate`: the bundle's size, the room at `dest`, the sticks seen."""

    records: int
    bytes: int
    free: int | None
    sticks: list[str]


class Exported(_Payload):
    """`export`: the bundle written, verified and renamed into place."""

    bundle: str
    records: int
    selected: int
    media_files: int
    bytes: int
    verified: bool  # every check passed but the media declared missing at export
    missing_media: list[tuple[int, str]]  # (record seq, sha256): stored, file gone


class HandoutRecord(RecordHeader):
    """One record of `history.fetch`: the plaintext header, the body as ciphertext."""

    prev_hash: str  # base64
    ct: str  # base64 AEAD ciphertext
    seal: Literal["sealed", "pending"]


class Handout(_Payload):
    """`history.fetch`: ciphertext records, their epochs' age-encrypted keys (None: the
    epoch was shredded), age-encrypted media by hash and the passphrase-encrypted identity."""

    format: int
    records: list[HandoutRecord]
    epoch_keys: dict[str, str | None]
    media: dict[str, str]
    media_omitted: int
    identity: str | None


class VehicleEntry(_Payload):
    """One entry of the vehicle register (`vehicles.add`/`remove` answer the entry)."""

    plate: str
    list: Literal["allow", "watch", "deny"]
    label: str
    note: str
    priority: str  # empty: the list's default


class VehicleList(_Payload):
    """`vehicles.list`."""

    entries: list[VehicleEntry]


class VehiclesImported(_Payload):
    """`vehicles.import`: how many entries were added or replaced."""

    imported: int


#: The reply of each command (by its audited name) that is not a live event or an alarm.
REPLIES: Final[Mapping[str, Any]] = {
    "status": Status,
    "events.list": list[EventHeader],
    "history.fetch": Handout,
    "config.get": ConfigText,
    "config.validate": ConfigCheck,
    "config.apply": ConfigApplied,
    "node.sample_rate": SampleRateSet,
    "pair": Paired,
    "export": Exported,
    "export.estimate": ExportEstimate,
    "vehicles.list": VehicleList,
    "vehicles.add": VehicleEntry,
    "vehicles.remove": VehicleEntry,
    "vehicles.import": VehiclesImported,
    "forward.report": Reported,
}


class ReplyMismatch(EdgewardenError):
    """A reply not of the shape this client's schema names (a service of another release)."""


def decode_as(raw: Any, kind: type[T], what: str, error: type[Exception]) -> T:
    """`raw` as `kind`, or `error` in one line naming `what` did not match (every decode
    of a socket payload goes through here, so every client says it alike)."""
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        raise error(f"the service's {what} does not match this client ({exc}): "
                    "run a client and service of the same release") from None


def decode_reply(cmd: str, raw: Any, kind: type[T]) -> T:
    """`raw` (the socket's answer to `cmd`) as `kind`; one clear line when it differs."""
    return decode_as(raw, kind, f"answer to {cmd}", ReplyMismatch)


def to_wire(payload: msgspec.Struct | Sequence[msgspec.Struct]) -> Any:
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
    plates: dict[str, Plates] | None = None  # each plate camera's OCR state and reads


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
    return decode_as(data, cls, f"{kind} event", EventMismatch)


def decode_alarm_reply(data: Any) -> Alarm:
    """The answer to `alarms.ack` and `alarms.shelve`: the point's `Alarm` after the action."""
    return decode_as(data, Alarm, "alarm reply", EventMismatch)
