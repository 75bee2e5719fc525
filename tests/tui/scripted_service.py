"""A real Unix-socket server speaking the control protocol, backed by scripted in-memory state.

Stands in for `edgewarden run` until the lead wires the service: the TUI under test talks
to a real socket, and history hand-outs are real store ciphertext (the store's record codec,
age-encrypted epoch keys and media, a passphrase-encrypted identity). Runs on its own event
loop in a thread so Pilot and snapshot tests can drive it, or as a process:
``python -m tests.tui.scripted_service --socket PATH [--role view] [--nodes 8 --hz 4]``.
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

import pyrage
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from PIL import Image, ImageDraw
from pyrage import passphrase as age_passphrase
from pyrage import x25519

from controller.config import ConfigError, ControlConfig, parse_config
from controller.control.commands import Call, CommandError, command_table, requested_kinds
from controller.control.roles import PeerCred, Role, RoleResolver
from controller.control.server import AuditEntry, ControlServer
from controller.store.records import Header, MediaRef, encode_body, seal_record

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


def base_status(role: str, user: str = "tech") -> dict[str, Any]:
    return {
        "user": user, "role": role, "device": "north-gate", "time": T0,
        "nodes": [
            {"id": "node-1", "uid": "E6614103A1B2C301", "name": "boiler", "online": True,
             "paired": True, "port": "/dev/edgewarden/node-E6614103A1B2C301",
             "last_seen": T0 - 2, "firmware": "1.4.0", "sample_rate_hz": 1.0,
             "channels": [{"name": "temp", "unit": "°C", "value": 21.5, "time": T0 - 2},
                          {"name": "pressure", "unit": "bar", "value": 1.2, "time": T0 - 2}],
             "frames_ok": 5120, "rejected": {"bad_crc": 3, "replayed": 1}},
            {"id": "node-2", "uid": "E6614103A1B2C302", "name": "yard", "online": False,
             "paired": True, "state": "absent",
             "last_error": "could not open port: No such file or directory",
             "last_seen": T0 - 600, "firmware": "1.4.0", "sample_rate_hz": 0.5,
             "channels": [{"name": "humidity", "unit": "%", "value": 64.0, "time": T0 - 600}],
             "frames_ok": 800, "rejected": {"bad_signature": 12}},
            {"id": "node-3", "uid": "E6614104", "name": "E6614104", "online": True,
             "paired": False, "state": "unpaired",
             "last_seen": T0 - 1, "channels": [],
             "frames_ok": 0, "rejected": {"unpaired": 40}},
        ],
        "alarms": [
            {"alarm_id": "node-1/temp:limits", "channel": "node-1/temp", "rule": "limits",
             "state": "active_unack", "severity": "critical", "priority": "high",
             "trigger_value": 88.0, "trigger_t": T0 - 120, "chattering": False,
             "history": [{"t": T0 - 120, "event": "raise", "to_state": "active_unack",
                          "user": ""}]},
            {"alarm_id": "node-2/humidity:missing", "channel": "node-2/humidity",
             "rule": "missing", "state": "active_ack", "severity": "warning",
             "priority": "medium", "trigger_t": T0 - 500, "acked_by": "ops1",
             "chattering": True, "history": []},
        ],
        "cameras": [
            {"name": "gate", "state": "running", "fps": 15.0,
             "last_detection": {"time": T0 - 30, "label": "sedan", "score": 0.47}},
            {"name": "yard", "state": "stopped", "fps": None, "last_detection": None},
        ],
        "health": {"cpu_temp_c": 54.2, "throttled": False, "throttle_flags": [],
                   "cpu_pct": 23.0, "memory_used_pct": 41.0, "disk_free_mb": 12800.0,
                   "disk_total_mb": 29000.0, "dropped": {"readings": 0}},
        "store": {"records": 48211, "sealed": 48000, "epoch": 472,
                  "verification_key_fingerprint": "3f2a:91c0:7be4:0d15"},
        "export_available": False,
    }


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

    def __init__(self, extra_alarms: int = 0) -> None:
        """`extra_alarms` more alarm transitions after the four records (a busy site)."""
        identity, self.identity_blob = _keys()
        recipient = identity.to_public()
        key = bytes(range(32))
        self.epoch = 472
        self.sealed_epoch_key = pyrage.encrypt(key, [recipient])
        aead = AESGCM(key)
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
        self.records: list[dict[str, Any]] = []
        prev = b"\0" * 32
        for seq, (kind, source, severity, body, media) in enumerate(bodies, start=1):
            header = Header(seq, T0 - 100 + seq * 10, self.epoch, kind, source, severity, prev)
            plain = encode_body(body, media, None, "boot", True)
            ct, _ = seal_record(aead, header, plain)
            prev = hashlib.sha256(ct).digest()
            self.records.append({  # the shape controller.store.handout.hand_out gives
                "id": seq, "time": header.t_wall, "epoch": self.epoch, "kind": kind,
                "source": source, "severity": severity,
                "prev_hash": base64.b64encode(header.prev_hash).decode(),
                "ct": base64.b64encode(ct).decode(), "seal": "verified",
            })

    def _select(self, args: dict[str, Any], kinds: list[str]) -> list[dict[str, Any]]:
        since, until = args.get("since"), args.get("until")
        return [r for r in reversed(self.records)
                if (not kinds or r["kind"] in kinds)
                and (since is None or r["time"] >= since)
                and (until is None or r["time"] <= until)][: int(args.get("limit", 500))]

    def listing(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for r in self._select(args, requested_kinds(args) or []):
            out.append({"id": r["id"], "time": r["time"], "kind": r["kind"],
                        "source": r["source"], "severity": r["severity"], "epoch": r["epoch"],
                        "seal": r["seal"]})
        return out

    def handout(self, args: dict[str, Any]) -> dict[str, Any]:
        records = self._select(args, list(args.get("kinds") or []))
        return {
            "identity": base64.b64encode(self.identity_blob).decode(),
            "epoch_keys": {str(self.epoch): base64.b64encode(self.sealed_epoch_key).decode()},
            "records": records,
            "media": {d: base64.b64encode(b).decode() for d, b in self.media.items()}
            if records else {},
        }


class FixedRoleResolver(RoleResolver):
    """Every caller gets one role: tests cannot join Unix groups (and root is admin)."""

    def __init__(self, role: Role) -> None:
        super().__init__(ControlConfig())
        self.role = role

    def resolve(self, peer: PeerCred) -> Role | None:
        return self.role


class ScriptedHandlers:
    """The service's control handlers over scripted in-memory state."""

    def __init__(self, status: dict[str, Any], publish: Any) -> None:
        self.status_doc = status
        self.publish = publish
        self.history: History | None = None
        self.config_text = CONFIG_TOML

    def _history(self) -> History:
        if self.history is None:
            self.history = History()
        return self.history

    def _alarm(self, alarm_id: str) -> dict[str, Any]:
        for alarm in self.status_doc["alarms"]:
            if alarm["alarm_id"] == alarm_id:
                return alarm  # type: ignore[no-any-return]
        raise CommandError(f"no alarm {alarm_id!r}")

    async def status(self, call: Call, args: dict[str, Any]) -> Any:
        return {**copy.deepcopy(self.status_doc), "role": call.role.label}

    async def alarms_ack(self, call: Call, args: dict[str, Any]) -> Any:
        alarm = self._alarm(args["alarm"])
        alarm["state"] = "active_ack" if alarm["state"] == "active_unack" else "normal"
        alarm["acked_by"] = self.status_doc["user"]
        return self._changed(alarm, "ack")

    async def alarms_shelve(self, call: Call, args: dict[str, Any]) -> Any:
        alarm = self._alarm(args["alarm"])
        if args["minutes"] <= 0:
            raise CommandError("minutes must be positive")
        alarm["state"] = "shelved"
        alarm["shelved_until"] = T0 + float(args["minutes"]) * 60
        alarm["shelve_reason"] = str(args.get("reason", ""))
        return self._changed(alarm, "shelve")

    def _changed(self, alarm: dict[str, Any], what: str) -> dict[str, Any]:
        alarm.setdefault("history", []).append(
            {"t": T0, "event": what, "to_state": alarm["state"], "user": self.status_doc["user"]})
        self.publish("alarm", copy.deepcopy(alarm))
        return copy.deepcopy(alarm)

    async def events_list(self, call: Call, args: dict[str, Any]) -> Any:
        return self._history().listing(args)

    async def history_fetch(self, call: Call, args: dict[str, Any]) -> Any:
        return self._history().handout(args)

    async def config_get(self, call: Call, args: dict[str, Any]) -> Any:
        return {"path": "/etc/edgewarden/config.toml", "toml": self.config_text}

    async def config_validate(self, call: Call, args: dict[str, Any]) -> Any:
        try:
            parse_config(args["toml"], "config.toml")
        except ConfigError as exc:
            return {"valid": False, "error": str(exc)}
        return {"valid": True, "error": None}

    async def config_apply(self, call: Call, args: dict[str, Any]) -> Any:
        try:
            parse_config(args["toml"], "config.toml")
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        self.config_text = args["toml"]
        return {"applied": True}

    async def node_sample_rate(self, call: Call, args: dict[str, Any]) -> Any:
        return {"node": args["node"], "sample_rate_hz": args["hz"]}

    async def pair(self, call: Call, args: dict[str, Any]) -> Any:
        node = next((n for n in self.status_doc["nodes"]
                     if args["node"] in (n["id"], n.get("uid"), n["name"])), None)
        if node is None:
            raise CommandError(f"no node {args['node']!r}")
        node["paired"] = True
        self.publish("health", {"nodes": [copy.deepcopy(node)]})
        return {"node": node["id"], "paired": True}

    async def export(self, call: Call, args: dict[str, Any]) -> Any:
        raise CommandError("evidence export is not available in this version yet")

    async def vehicles_list(self, call: Call, args: dict[str, Any]) -> Any:
        return {"entries": []}

    async def vehicles_add(self, call: Call, args: dict[str, Any]) -> Any:
        raise CommandError("the scripted service has no vehicle register")

    vehicles_remove = vehicles_import = vehicles_add
    async def forward_report(self, call: Call, args: dict[str, Any]) -> Any:
        self.status_doc["forwarder"] = dict(args)
        return {"ok": True}


class ScriptedService:
    """controller.control's real ControlServer over ScriptedHandlers, on its own loop."""

    def __init__(self, socket_path: Path, role: str = "admin", user: str = "tech") -> None:
        self.socket_path = Path(socket_path)
        self.role = Role[role.upper()]
        self.handlers = ScriptedHandlers(base_status(role, user), self.publish)
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

    def inject(self, kind: str, data: Any) -> None:
        """Publish one event from any thread; alarms also update the scripted state."""
        assert self._loop is not None

        def apply() -> None:
            if kind == "alarm":
                alarms = [a for a in self.status["alarms"] if a["alarm_id"] != data["alarm_id"]]
                self.status["alarms"] = [*alarms, data]
            self.publish(kind, data)

        self._loop.call_soon_threadsafe(apply)


# ---------------------------------------------------------------------- live driver
async def drive_readings(service: ScriptedService, nodes: int, hz: float) -> None:
    """`nodes` nodes, two channels each, a reading per channel at `hz` (on the server loop)."""
    service.handlers.status_doc["nodes"] = [
        {"id": f"sim-{i}", "name": f"sim-{i}", "online": True, "paired": True,
         "channels": [{"name": "temp", "unit": "°C"}, {"name": "vib", "unit": "g"}],
         "frames_ok": 0, "rejected": {}}
        for i in range(nodes)
    ]
    tick = 0
    while True:
        tick += 1
        for i in range(nodes):
            for name, base in (("temp", 20.0), ("vib", 0.1)):
                value = base + math.sin(tick / 8 + i) * (base / 10)
                service.publish("reading", {"node": f"sim-{i}", "channel": name,
                                            "value": round(value, 3), "time": time.time()})
        await asyncio.sleep(1 / hz)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--role", choices=ROLES, default="admin")
    parser.add_argument("--nodes", type=int, default=0, help="simulated nodes sending readings")
    parser.add_argument("--hz", type=float, default=4.0)
    args = parser.parse_args()
    service = ScriptedService(args.socket, role=args.role)

    async def run() -> None:
        await service.serve()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        driver = (asyncio.create_task(drive_readings(service, args.nodes, args.hz))
                  if args.nodes else None)
        print("ready", flush=True)
        await stop.wait()
        if driver is not None:
            driver.cancel()
        await service._shutdown()

    asyncio.run(run())


if __name__ == "__main__":
    main()
