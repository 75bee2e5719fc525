"""A real Unix-socket server speaking the control protocol, backed by scripted in-memory state.

Stands in for `edgewarden run` until the lead wires the service: the TUI under test talks
to a real socket, and history hand-outs are real store ciphertext (the store's record codec,
age-encrypted epoch keys and media, a passphrase-encrypted identity). Runs on its own event
loop in a thread so Pilot and snapshot tests can drive it, or as a process:
``python -m tests.tui.scripted_service --socket PATH [--role view] [--nodes 8 --hz 4]
[--plates-every 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import functools
import hashlib
import io
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import pyrage
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from PIL import Image, ImageDraw
from pyrage import passphrase as age_passphrase
from pyrage import x25519

from controller.config import ConfigError, ControlConfig, parse_config
from controller.control import schema
from controller.control.commands import Call, CommandError, command_table, requested_kinds
from controller.control.roles import PeerCred, Role, RoleResolver
from controller.control.server import AuditEntry, ControlServer
from controller.plates import register_file
from controller.plates.register import Register, make_entry
from controller.service.notices import plate_notice
from controller.service.vehicles import VehicleRegister
from controller.store.records import Header, MediaRef, encode_body, seal_record
from controller.store.retention_class import UNLISTED

PASSPHRASE = "correct horse battery staple"
T0 = 1_700_000_000.0  # fixed "now" of the scripted site: snapshots never see a real clock
ROLES = ("view", "ops", "admin")
CONFIG_TOML = """\
[device]
name = "north-gate"

[health]
interval_s = 10.0
"""


@functools.cache
def _keys() -> tuple[x25519.Identity, bytes]:
    """The record identity and its passphrase-encrypted file (scrypt is slow: made once)."""
    identity = x25519.Identity.generate()
    blob = age_passphrase.encrypt(f"# test identity\n{identity}\n".encode(), PASSPHRASE)
    return identity, blob


def snapshot_jpeg() -> bytes:
    """A small deterministic picture: a grey road and a red 'vehicle'."""
    image = Image.new("RGB", (64, 36), (90, 90, 90))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 24, 63, 35), fill=(40, 40, 40))
    draw.rectangle((20, 14, 40, 26), fill=(200, 30, 30))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def plate_jpeg(text: str) -> bytes:
    """A plate crop: dark characters on a white plate with a green band (deterministic)."""
    image = Image.new("RGB", (120, 30), (245, 245, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 119, 5), fill=(20, 120, 60))
    draw.text((8, 10), text, fill=(10, 10, 10))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def vehicle_jpeg(colour: tuple[int, int, int]) -> bytes:
    """A vehicle snapshot: a car of `colour` on a grey road, a white plate below."""
    image = Image.new("RGB", (96, 54), (90, 90, 90))
    draw = ImageDraw.Draw(image)
    draw.rectangle((18, 14, 78, 44), fill=colour)
    draw.rectangle((38, 38, 58, 43), fill=(245, 245, 240))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


# the register the scripted site starts with: (plate, list, label, note, priority)
REGISTER = (
    ("KJA-407XY", "watch", "stolen van", "reported 2023-11-12, Ikeja", "high"),
    ("ABC-123DE", "allow", "site manager", "", ""),
    ("LSR-990AA", "deny", "banned contractor", "", ""),
)
# the stored reads: (plate, camera, track, vehicle label, confidence, seconds before T0)
PLATE_READS = (
    ("KJA407XY", "gate", 11, "pickup_suv_van", 0.94, 75),
    ("ABC123DE", "gate", 12, "sedan", 0.97, 55),
    ("EPE118KD", "yard", 5, "car", 0.81, 35),
)


def plate_body(register: Register, text: str, camera: str, track_id: int, label: str,
               confidence: float, t: float, media: list[str]) -> dict[str, Any]:
    """A plate record's body, as controller.service.plate_records writes it."""
    match = register.match(text, 1.0)
    return {
        "camera": camera, "track_id": track_id, "label": label, "text": text,
        "confidence": confidence, "agreeing": 3, "attempts": 4,
        "first_seen": round(t - 2.0, 3), "time": round(t, 3),
        "list": match.entry.list if match else None,
        "match": None if match is None else {
            "plate": match.entry.plate, "distance": match.distance,
            "label": match.entry.label, "priority": match.entry.alarm_priority},
        "media": media,
    }


def scripted_register() -> Register:
    return Register(make_entry(*row) for row in REGISTER)


SCRIPTED_UID = 1000  # the scripted caller: snapshots never see the test's own uid
MB = 1024 * 1024


def scripted_node(node_id: str, name: str, uid: str | None, state: str, *, online: bool,
          paired: bool, last_seen: float | None, firmware: str, hz: float | None,
          frames_ok: int, rejected: dict[str, int], last_error: str | None = None,
          heard: bool = True) -> schema.Node:
    link = schema.NodeLink(lost_frames=0, lost_frames_window=0, lag_ms=None,
                           forged_frames_window=0, problems=[]) if heard else None
    return schema.Node(
        id=node_id, name=name, uid=uid, port=f"/dev/edgewarden/node-{uid or name}",
        state=state, online=online, paired=paired, last_seen=last_seen,
        frames_ok=frames_ok, readings=frames_ok, rejected=rejected, firmware=firmware,
        sample_rate_hz=hz, port_state="open" if last_error is None else "absent",
        last_error=last_error, link=link)


def scripted_channel(node: str, channel: str, unit: str, value: float, t: float) -> schema.Channel:
    return schema.Channel(key=f"{node}/{channel}", node=node, channel=channel, unit=unit,
                          value=value, t=t, history=[], score=0.0)


def scripted_alarm(alarm_id: str, rule: str, state: str, severity: str, priority: str, *,
           value: float | None, since: float, acked_by: str | None = None,
           chattering: bool = False) -> schema.Alarm:
    return schema.Alarm(
        id=alarm_id, channel=alarm_id.split(":")[0], rule=rule, state=state,
        condition=True, severity=severity, priority=priority, value=value, since=since,
        peak=value, acked_by=acked_by, acked_at=None if acked_by is None else since + 60,
        comment=None, shelved_by=None, shelved_until=None, shelve_reason=None,
        suppressed=None, chatter_per_hour=12 if chattering else 0, chattering=chattering,
        detail=None, message=None)


def scripted_camera(name: str, state: str, detection: schema.Detection | None,
            reason: str | None = None) -> schema.Camera:
    return schema.Camera(
        name=name, source="(stream)", state=state, reason=reason, frames=5400, dropped=0,
        reopen_attempts=0 if reason is None else 3, detector="motion-only",
        detector_runs=5400, last_detection=detection, recording="events",
        tamper=schema.Tamper(state="off"), codec=None, plates=None)


def scripted_status(role: str) -> schema.Status:
    """The scripted site's status, typed as the service's (controller.control.schema)."""
    sedan = schema.Detection(camera="gate", zone="drive", label="sedan", track_id=4,
                             score=0.47, time=T0 - 30, start=T0 - 38, continues=False,
                             phase="end", event_id=f"gate/drive/{T0 - 38:.3f}/4")
    return schema.Status(
        state="running", version="0.1.0", device="north-gate", time=T0, uptime_s=86400.0,
        nodes=[
            scripted_node("node-1", "boiler", "E6614103A1B2C301", "online", online=True,
                          paired=True,
                  last_seen=T0 - 2, firmware="1.4.0", hz=1.0, frames_ok=5120,
                  rejected={"bad_crc": 3, "replayed": 1}),
            scripted_node("node-2", "yard", "E6614103A1B2C302", "absent", online=False, paired=True,
                  last_seen=T0 - 600, firmware="1.4.0", hz=0.5, frames_ok=800,
                  rejected={"bad_signature": 12},
                  last_error="could not open port: No such file or directory"),
            scripted_node("node-3", "E6614104", "E6614104", "unpaired", online=True, paired=False,
                  last_seen=T0 - 1, firmware="", hz=None, frames_ok=0,
                  rejected={"unpaired": 40}),
        ],
        ports=[],
        channels=[scripted_channel("node-1", "temp", "°C", 21.5, T0 - 2),
                  scripted_channel("node-1", "pressure", "bar", 1.2, T0 - 2),
                  scripted_channel("node-2", "humidity", "%", 64.0, T0 - 600)],
        alarms=[
            scripted_alarm("node-1/temp:limits", "limits", "active_unack", "critical", "high",
                   value=88.0, since=T0 - 120),
            scripted_alarm("node-2/humidity:missing", "missing", "active_ack", "warning", "medium",
                   value=None, since=T0 - 500, acked_by="ops1", chattering=True),
        ],
        cameras=[scripted_camera("gate", "up", sedan),
                 scripted_camera("yard", "down", None, reason="no frames for 30 s")],
        health=schema.Health(
            time=T0 - 5, load_1m=0.4, load_5m=0.3, load_15m=0.2, cpu_count=4,
            cpu_percent=23.0, cpu_temp_c=54.2, memory_total_bytes=100 * MB,
            memory_available_bytes=59 * MB, swap_used_bytes=0, uptime_s=86400.0,
            filesystems=(schema.Filesystem(path="/var/lib/edgewarden",
                                           device="/dev/mmcblk0p2", total_bytes=29000 * MB,
                                           free_bytes=12800 * MB, on_sd_card=True),),
            throttling=None),
        store=schema.Store(
            records=48211, sealed=48000, seals=1600,
            verification_key_fingerprint="3f2a:91c0:7be4:0d15", committed_since_start=211,
            batches=70, epoch=472, pending=0, dropped_no_space=0, dropped_queue_full=0,
            shed_media_files=0, shed_readings=0, not_stored=0, failed_commits=0, state="ok",
            failure=None, failing_since=None, reserve_bytes=8 * MB, checkpoint=None),
        queues=schema.Queues(readings_dropped=0, control=schema.ControlQueue(
            clients=1, subscribers=1, events_published=0, events_dropped=0,
            clients_refused=0, queue_size=256, backlog=0)),
        forwarder=None,
        config=schema.ConfigState(path="/etc/edgewarden/config.toml", reloads=0,
                                  last_error=None),
        you=schema.You(uid=SCRIPTED_UID, role=Role.parse(role).label),  # type: ignore[arg-type]
    )


# ------------------------------------------------------------------- live events
def scripted_reading(node: str, channel: str, value: float, t: float,
                     unit: str = "") -> schema.ReadingNotice:
    return schema.ReadingNotice(node_uid=f"uid-{node}", node=node, channel=channel,
                                value=value, unit=unit, node_time_ms=int(t * 1000),
                                received_wall=t, received_mono=t - T0, counter=1)


def scripted_transition(alarm_id: str, event: str, from_state: str, to_state: str, *,
                        t: float, value: float | None, user: str = "", comment: str = "",
                        severity: str = "warning", priority: str = "medium",
                        seq: int | None = None) -> schema.AlarmNotice:
    channel, _, rule = alarm_id.rpartition(":")
    return schema.AlarmNotice(
        seq=seq, t=t, alarm_id=alarm_id, channel=channel, rule=rule, event=event,
        from_state=from_state, to_state=to_state, severity=severity, priority=priority,
        value=value, score=1.0 if value is not None else 0.0, user=user, comment=comment,
        chatter_per_hour=1, detail=None, message=None)


def scripted_detection(camera: str, label: str, score: float, t: float, *,
                       phase: str = "start", zone: str = "all", track_id: int = 1,
                       seq: int | None = None) -> schema.DetectionNotice:
    return schema.DetectionNotice(
        seq=seq, camera=camera, zone=zone, label=label, track_id=track_id, score=score,
        time=t, start=t, continues=False, phase=phase,
        event_id=f"{camera}/{zone}/{t:.3f}/{track_id}")


def scripted_health(status: dict[str, Any], nodes: list[dict[str, Any]] | None = None,
                    with_sample: bool = False) -> schema.HealthNotice:
    """A health event as the service sends it, from the scripted status's parts."""
    return schema.HealthNotice(
        health=msgspec.convert(status["health"], schema.Health) if with_sample else None,
        store=msgspec.convert(status["store"], schema.Store),
        nodes=None if nodes is None else msgspec.convert(nodes, list[schema.Node]))


def base_status(role: str) -> dict[str, Any]:
    """The scripted status as the socket carries it (plain JSON data)."""
    return schema.to_wire(scripted_status(role))  # type: ignore[no-any-return]


SHELVE_REASON = ("boiler service visit by the heating contractor; the temperature probe is "
                 "out of its well until the afternoon")


def audit_body(entry: AuditEntry, user: str) -> tuple[str, str, str, dict[str, Any],
                                                      tuple[MediaRef, ...]]:
    """A control request's audit record, in the shape controller.service writes it."""
    return ("audit", f"uid:{entry.uid}", "info" if entry.outcome == "ok" else "warning", {
        "action": entry.cmd, "cmd": entry.cmd, "ok": entry.outcome == "ok", "user": user,
        "uid": entry.uid, "gid": entry.gid, "pid": entry.pid, "role": entry.role,
        "outcome": entry.outcome, "reason": entry.reason, "about": entry.about,
        "detail": entry.summary()}, ())


class History:
    """Records encrypted exactly as the store writes them, handed out like the service."""

    def __init__(self, extra_alarms: int = 0, live_events: bool = False,
                 plates: bool = True) -> None:
        """`extra_alarms` more alarm transitions after the four records (a busy site);
        `live_events`: then a car's start and end records (one event, with a snapshot and
        its box) and a truck's start record (an event still going on), as the service
        stores them; `plates`: then three plate reads (a watch hit, an allowed vehicle, a
        vehicle on no list) with their plate crops and vehicle snapshots."""
        identity, self.identity_blob = _keys()
        self.recipient = identity.to_public()
        key = bytes(range(32))
        self.epoch = 472
        self.sealed_epoch_key = pyrage.encrypt(key, [self.recipient])
        self._aead = AESGCM(key)
        recipient = self.recipient
        picture = snapshot_jpeg()
        self.media: dict[str, bytes] = {}
        sealed_picture = pyrage.encrypt(picture, [recipient])
        digest = hashlib.sha256(sealed_picture).hexdigest()
        self.media[digest] = sealed_picture
        bodies: list[tuple[str, str, str, dict[str, Any], tuple[MediaRef, ...]]] = [
            ("event", "gate", "info",
             {"label": "sedan", "score": 0.47, "camera": "gate", "zone": "drive",
              "start": T0 - 40, "end": T0 - 31,
              "track": [[0.1, 0.5, 0.2, 0.1], [0.3, 0.5, 0.2, 0.1], [0.5, 0.5, 0.2, 0.1]]},
             (MediaRef(digest, "image/png", len(sealed_picture)),)),
            ("alarm", "node-1/temp", "critical",
             {"event": "raise", "from_state": "normal", "to_state": "active_unack",
              "value": 88.0, "user": ""}, ()),
            audit_body(AuditEntry(T0 - 50, 1000, 1000, 4242, "ops", "alarms.ack", "ok",
                                  about={"alarm": "node-2/humidity:missing", "comment": "",
                                         "channel": "node-2/humidity", "rule": "missing",
                                         "state": "active_ack"}), "tech(1000)"),
            audit_body(AuditEntry(T0 - 40, 1001, 1001, 4243, "view", "config.apply",
                                  "refused", "config.apply needs role admin; uid 1001 has "
                                  "role view"), "guest(1001)"),
            audit_body(AuditEntry(T0 - 30, 1000, 1000, 4244, "ops", "alarms.shelve", "ok",
                                  about={"alarm": "node-1/temp:limits", "minutes": "240",
                                         "reason": SHELVE_REASON, "channel": "node-1/temp",
                                         "rule": "limits", "state": "shelved",
                                         "until": "2023-11-15 02:13:20 UTC"}), "tech(1000)"),
            ("audit", "service", "info",
             {"action": "node.paired", "node": "boiler", "uid": "E6614103",
              "port": "/dev/edgewarden/node-E6614103", "by": 0}, ()),
        ]
        bodies += [("alarm", f"node-{i % 3 + 1}/temp", "warning",
                    {"event": "raise" if i % 2 else "return", "from_state": "normal",
                     "to_state": "active_unack" if i % 2 else "returned_unack",
                     "value": float(i), "user": ""}, ()) for i in range(extra_alarms)]
        if live_events:
            car = {"camera": "gate", "zone": "drive", "label": "car", "track_id": 7,
                   "start": T0 - 5, "event_id": f"gate/drive/{T0 - 5:.3f}/7"}
            bodies += [
                ("event", "gate", "warning",
                 {**car, "score": 0.41, "time": T0 - 5, "continues": False,
                  "phase": "start"}, ()),
                ("event", "gate", "warning",
                 {**car, "end": T0 + 3, "best_score": 0.88, "points": 9,
                  "best_box": [0.3, 0.35, 0.65, 0.75], "phase": "end",
                  "track": [{"t": T0 - 5, "box": [0.3, 0.35, 0.65, 0.75], "score": 0.88}]},
                 (MediaRef(digest, "image/png", len(sealed_picture)),)),
                ("event", "yard", "warning",
                 {"camera": "yard", "zone": "all", "label": "truck", "track_id": 3,
                  "start": T0 + 8, "time": T0 + 8, "score": 0.52, "continues": False,
                  "phase": "start", "event_id": f"yard/all/{T0 + 8:.3f}/3"}, ()),
            ]
        self.records: list[schema.HandoutRecord] = []
        self.media_counts: dict[int, int] = {}
        self._prev = b"\0" * 32
        for seq, (kind, source, severity, body, media) in enumerate(bodies, start=1):
            self.append(kind, source, severity, body, media, T0 - 100 + seq * 10)
        if plates:
            register = scripted_register()
            for text, camera, track, label, confidence, before in PLATE_READS:
                self.add_plate_read(register, text, camera, track, label, confidence,
                                    T0 - before)

    def append(self, kind: str, source: str, severity: str, body: dict[str, Any],
               media: tuple[MediaRef, ...], t_wall: float) -> None:
        """One record, encrypted and chained as the store writes it."""
        seq = len(self.records) + 1
        header = Header(seq, t_wall, self.epoch, kind, source, severity, self._prev)
        plain = encode_body(body, media, None, "boot", True)
        ct, _ = seal_record(self._aead, header, plain)
        self._prev = hashlib.sha256(ct).digest()
        self.records.append(schema.HandoutRecord(  # as controller.store.handout hands out
            id=seq, time=header.t_wall, epoch=self.epoch, kind=kind, source=source,
            severity=severity, prev_hash=base64.b64encode(header.prev_hash).decode(),
            ct=base64.b64encode(ct).decode(), seal="sealed"))
        self.media_counts[seq] = len(media)

    def add_media(self, data: bytes, content_type: str) -> MediaRef:
        sealed = pyrage.encrypt(data, [self.recipient])
        digest = hashlib.sha256(sealed).hexdigest()
        self.media[digest] = sealed
        return MediaRef(digest, content_type, len(sealed))

    def add_plate_read(self, register: Register, text: str, camera: str, track_id: int,
                       label: str, confidence: float, t: float) -> dict[str, Any]:
        """A stored plate read (crop and vehicle media) as the service stores it; returns
        the body, from which the service's live notice is made."""
        colour = (30 + track_id * 40 % 200, 60, 160 - track_id * 20 % 140)
        refs = (self.add_media(plate_jpeg(text), "image/jpeg"),
                self.add_media(vehicle_jpeg(colour), "image/jpeg"))
        body = plate_body(register, text, camera, track_id, label, confidence, t,
                          ["plate", "vehicle"])
        severity = UNLISTED if body["list"] is None else (
            "warning" if body["list"] in ("watch", "deny") else "info")
        # the service stores the read just after making it
        self.append("plate", camera, severity, body, refs, t + 0.05)
        return body

    def _select(self, args: dict[str, Any], kinds: list[str]) -> list[schema.HandoutRecord]:
        since, until = args.get("since"), args.get("until")
        return [r for r in reversed(self.records)
                if (not kinds or r.kind in kinds)
                and (since is None or r.time >= since)
                and (until is None or r.time <= until)][: int(args.get("limit", 500))]

    def listing(self, args: dict[str, Any]) -> Any:
        """`events.list` as the service answers it: headers only (no seal state)."""
        return schema.to_wire([schema.EventHeader(
            id=r.id, time=r.time, epoch=r.epoch, kind=r.kind, source=r.source,
            severity=r.severity, media=self.media_counts[r.id])
            for r in self._select(args, requested_kinds(args) or [])])

    def handout(self, args: dict[str, Any]) -> dict[str, Any]:
        records = self._select(args, list(args.get("kinds") or []))
        return schema.to_wire(schema.Handout(
            format=1, identity=base64.b64encode(self.identity_blob).decode(),
            epoch_keys={str(self.epoch): base64.b64encode(self.sealed_epoch_key).decode()},
            records=records,
            media={d: base64.b64encode(b).decode() for d, b in self.media.items()}
            if records else {}, media_omitted=0))


class FixedRoleResolver(RoleResolver):
    """Every caller gets one role: tests cannot join Unix groups (and root is admin)."""

    def __init__(self, role: Role) -> None:
        super().__init__(ControlConfig())
        self.role = role

    def resolve(self, peer: PeerCred) -> Role | None:
        return self.role


class ScriptedHandlers:
    """The service's control handlers over scripted in-memory state."""

    def __init__(self, status: dict[str, Any], publish: Any, user: str = "tech",
                 register_path: Path | None = None) -> None:
        self.status_doc = status
        self.user = user  # the name the service would give the scripted uid
        self.publish = publish
        self.history: History | None = None
        self.config_text = CONFIG_TOML
        # the service's own register (saved, audited: the audit lands in `register_audit`)
        self.register_audit: list[tuple[str, dict[str, Any]]] = []
        self.vehicles: VehicleRegister | None = None
        if register_path is not None:
            register_file.save(register_path, scripted_register())
            self.vehicles = VehicleRegister(
                register_path, lambda action, detail: self.register_audit.append(
                    (action, detail)))

    def _history(self) -> History:
        if self.history is None:
            self.history = History()
        return self.history

    def _alarm(self, alarm_id: str) -> dict[str, Any]:
        for alarm in self.status_doc["alarms"]:
            if alarm["id"] == alarm_id:
                return alarm  # type: ignore[no-any-return]
        raise CommandError(f"no alarm {alarm_id!r}")

    async def status(self, call: Call, args: dict[str, Any]) -> Any:
        # as the service answers: who asked, with the role as the service names it
        return {**copy.deepcopy(self.status_doc),
                "you": {"uid": SCRIPTED_UID, "role": call.role.label}}

    async def alarms_ack(self, call: Call, args: dict[str, Any]) -> Any:
        alarm = self._alarm(args["alarm"])
        before = alarm["state"]
        alarm["state"] = "active_ack" if alarm["state"] == "active_unack" else "normal"
        alarm["acked_by"] = self.user
        return self._changed(alarm, "ack", before, args.get("comment", ""))

    async def alarms_shelve(self, call: Call, args: dict[str, Any]) -> Any:
        alarm = self._alarm(args["alarm"])
        if args["minutes"] <= 0:
            raise CommandError("minutes must be positive")
        before = alarm["state"]
        alarm["state"] = "shelved"
        alarm["shelved_until"] = T0 + float(args["minutes"]) * 60
        alarm["shelve_reason"] = str(args.get("reason", ""))
        return self._changed(alarm, "shelve", before, alarm["shelve_reason"])

    def _changed(self, alarm: dict[str, Any], what: str, before: str,
                 comment: str) -> dict[str, Any]:
        """As the service: subscribers hear the transition, the caller gets the point."""
        self.publish("alarm", schema.to_wire(scripted_transition(
            alarm["id"], what, before, alarm["state"], t=T0, value=alarm["value"],
            user=self.user, comment=comment, severity=alarm["severity"],
            priority=alarm["priority"])))
        return schema.to_wire(msgspec.convert(alarm, schema.Alarm))  # type: ignore[no-any-return]

    async def events_list(self, call: Call, args: dict[str, Any]) -> Any:
        return self._history().listing(args)

    async def history_fetch(self, call: Call, args: dict[str, Any]) -> Any:
        return self._history().handout(args)

    async def config_get(self, call: Call, args: dict[str, Any]) -> Any:
        return schema.to_wire(schema.ConfigText(path="/etc/edgewarden/config.toml",
                                                toml=self.config_text, effective={}))

    async def config_validate(self, call: Call, args: dict[str, Any]) -> Any:
        try:
            parse_config(args["toml"], "config.toml")
        except ConfigError as exc:
            return schema.to_wire(schema.ConfigCheck(valid=False, error=str(exc),
                                                     line=exc.line, key=exc.key))
        return schema.to_wire(schema.ConfigCheck(valid=True, error=None, line=None, key=None))

    async def config_apply(self, call: Call, args: dict[str, Any]) -> Any:
        try:
            parse_config(args["toml"], "config.toml")
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        self.config_text = args["toml"]
        return schema.to_wire(schema.ConfigApplied(applied=True,
                                                   path="/etc/edgewarden/config.toml"))

    async def node_sample_rate(self, call: Call, args: dict[str, Any]) -> Any:
        return schema.to_wire(schema.SampleRateSet(node=args["node"],
                                                   sample_rate_hz=float(args["hz"])))

    async def pair(self, call: Call, args: dict[str, Any]) -> Any:
        node = next((n for n in self.status_doc["nodes"]
                     if args["node"] in (n["id"], n.get("uid"), n["name"])), None)
        if node is None:
            raise CommandError(f"no node {args['node']!r}")
        node["paired"] = True
        self.publish("health", schema.to_wire(scripted_health(self.status_doc, [node])))
        return schema.to_wire(schema.Paired(node=node["name"], uid=node["uid"] or node["id"],
                                            port=node["port"], paired=True,
                                            replaced_key=None))

    async def export(self, call: Call, args: dict[str, Any]) -> Any:
        raise CommandError("evidence export is not available in this version yet")

    def _vehicles(self) -> VehicleRegister:
        if self.vehicles is None:
            raise CommandError("the scripted service has no vehicle register")
        return self.vehicles

    async def vehicles_list(self, call: Call, args: dict[str, Any]) -> Any:
        return self._vehicles().list(call, args)

    async def vehicles_add(self, call: Call, args: dict[str, Any]) -> Any:
        return self._vehicles().add(call, args)

    async def vehicles_remove(self, call: Call, args: dict[str, Any]) -> Any:
        return self._vehicles().remove(call, args)

    async def vehicles_import(self, call: Call, args: dict[str, Any]) -> Any:
        return self._vehicles().import_csv(call, args)

    def plate_read(self, text: str, camera: str, track_id: int, label: str,
                   confidence: float, t: float) -> None:
        """A new read: stored, then its notice published (verdict only), as the service."""
        register = self.vehicles.snapshot() if self.vehicles else scripted_register()
        body = self._history().add_plate_read(register, text, camera, track_id, label,
                                              confidence, t)
        seq = len(self._history().records)  # the record add_plate_read stored
        self.publish("plate", schema.to_wire(plate_notice(body, seq)))

    async def forward_report(self, call: Call, args: dict[str, Any]) -> Any:
        self.status_doc["forwarder"] = schema.to_wire(schema.Forwarder(
            connected=args["connected"], outbox=args["outbox"],
            last_error=args.get("last_error") or None, published=args.get("published"),
            gaps=args.get("gaps"), broker=args.get("broker"), uid=call.peer.uid,
            time=T0))
        return schema.to_wire(schema.Reported(ok=True))


class ScriptedService:
    """controller.control's real ControlServer over ScriptedHandlers, on its own loop."""

    def __init__(self, socket_path: Path, role: str = "admin", user: str = "tech") -> None:
        self.socket_path = Path(socket_path)
        self.role = Role[role.upper()]
        self.handlers = ScriptedHandlers(base_status(role), self.publish, user,
                                         self.socket_path.parent / register_file.FILE_NAME)
        self.audit: list[AuditEntry] = []
        self.server: ControlServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def status(self) -> dict[str, Any]:
        return self.handlers.status_doc

    @property
    def config_text(self) -> str:
        return self.handlers.config_text

    @property
    def requests(self) -> list[dict[str, Any]]:
        """What the server audited: one entry per request, with the command name."""
        return [{"cmd": a.cmd, "outcome": a.outcome} for a in self.audit]

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.server = ControlServer(
            self.socket_path, command_table(self.handlers), FixedRoleResolver(self.role),
            self.audit.append,
        )
        await self.server.start()
        self._ready.set()

    def publish(self, kind: str, data: Any) -> None:
        if self.server is not None:
            self.server.publish(kind, data)

    def start(self) -> ScriptedService:
        def run() -> None:
            loop = asyncio.new_event_loop()
            loop.run_until_complete(self.serve())
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        self._ready.wait(5)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._thread = None
            self._ready.clear()

    async def _shutdown(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None

    def inject(self, kind: str, notice: schema.Notice) -> None:
        """Publish one event (the schema's Struct) from any thread; an alarm transition
        also updates the scripted status, which then lists the point's view."""
        assert self._loop is not None
        assert isinstance(notice, schema.NOTICE_TYPES[kind]), "inject the kind's Struct"

        def apply() -> None:
            if isinstance(notice, schema.AlarmNotice):
                view = schema.to_wire(scripted_alarm(
                    notice.alarm_id, notice.rule, notice.to_state, notice.severity,
                    notice.priority, value=notice.value, since=notice.t))
                alarms = [a for a in self.status["alarms"] if a["id"] != notice.alarm_id]
                self.status["alarms"] = [*alarms, view]
            self.publish(kind, schema.to_wire(notice))

        self._loop.call_soon_threadsafe(apply)

    def read_plate(self, text: str, camera: str = "gate", track_id: int = 21,
                   label: str = "car", confidence: float = 0.9, t: float = T0) -> None:
        """From any thread: a camera reads a plate (the record, then the live notice)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(
            self.handlers.plate_read, text, camera, track_id, label, confidence, t)


# ---------------------------------------------------------------------- live driver
async def drive_readings(service: ScriptedService, nodes: int, hz: float) -> None:
    """`nodes` nodes, two channels each, a reading per channel at `hz` (on the server loop)."""
    service.handlers.status_doc["nodes"] = [schema.to_wire(scripted_node(
        f"sim-{i}", f"sim-{i}", None, "online", online=True, paired=True, last_seen=None,
        firmware="", hz=None, frames_ok=0, rejected={})) for i in range(nodes)]
    service.handlers.status_doc["channels"] = [
        schema.to_wire(scripted_channel(f"sim-{i}", name, unit, 0.0, time.time()))
        for i in range(nodes) for name, unit in (("temp", "°C"), ("vib", "g"))]
    tick = 0
    while True:
        tick += 1
        for i in range(nodes):
            for name, base in (("temp", 20.0), ("vib", 0.1)):
                value = base + math.sin(tick / 8 + i) * (base / 10)
                service.publish("reading", schema.to_wire(scripted_reading(
                    f"sim-{i}", name, round(value, 3), time.time())))
        await asyncio.sleep(1 / hz)


async def drive_plates(service: ScriptedService, every_s: float) -> None:
    """A plate read every `every_s` seconds, now (on the server loop): the watch-listed van
    (once read with an O for its 0), the manager's car, and vehicles on no list."""
    reads = (("KJA407XY", "gate", "pickup_suv_van"), ("ABC123DE", "gate", "sedan"),
             ("EKY231BC", "yard", "car"), ("KJA4O7XY", "gate", "pickup_suv_van"),
             ("LSR990AA", "yard", "large_veh_bus"), ("FST808KD", "gate", "car"))
    track = 100
    while True:
        await asyncio.sleep(every_s)
        text, camera, label = reads[track % len(reads)]
        track += 1
        service.handlers.plate_read(text, camera, track, label, 0.9, time.time())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--role", choices=ROLES, default="admin")
    parser.add_argument("--nodes", type=int, default=0, help="simulated nodes sending readings")
    parser.add_argument("--hz", type=float, default=4.0)
    parser.add_argument("--plates-every", type=float, default=0.0,
                        help="a plate read every so many seconds (0: none)")
    args = parser.parse_args()
    service = ScriptedService(args.socket, role=args.role)

    async def run() -> None:
        await service.serve()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        drivers = ([asyncio.create_task(drive_readings(service, args.nodes, args.hz))]
                   if args.nodes else [])
        if args.plates_every > 0:
            drivers.append(asyncio.create_task(drive_plates(service, args.plates_every)))
        print("ready", flush=True)
        await stop.wait()
        for driver in drivers:
            driver.cancel()
        await service._shutdown()

    asyncio.run(run())


if __name__ == "__main__":
    main()
