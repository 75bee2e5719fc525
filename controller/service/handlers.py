"""The service's answers to control-socket commands (the socket enforces roles first).

Each handler works on the running service through the narrow
:class:`~controller.service.surface.ControlledService` interface and returns its reply
built as the schema's Struct (`controller.control.schema`) and sent as JSON-able data,
or raises :class:`CommandError` with a reason the caller may see.
History leaves the service only as ciphertext: records, age-encrypted epoch keys and the
passphrase-encrypted identity; the caller decrypts in its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from controller.anomaly.alarm import AlarmActionError
from controller.atomic_file import write_atomic
from controller.config import ConfigError, config_to_dict, parse_config
from controller.control import schema
from controller.control.commands import Call, CommandError, requested_kinds
from controller.control.schema import Alarm, to_wire
from controller.errors import EdgewardenError
from controller.service.surface import ControlledService
from controller.store.layout import StoreLayout

MAX_SHELVE_MINUTES = 7 * 24 * 60
MAX_SAMPLE_RATE_HZ = 100.0
PAIR_TIMEOUT_S = 8.0  # within the clients' 10 s, so they get the reason, not a timeout

T = TypeVar("T")


def user_name(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name}({uid})"
    except KeyError:
        return f"uid {uid}"


class ServiceHandlers:
    """Implements :class:`controller.control.commands.ControlHandlers`."""

    def __init__(self, service: ControlledService) -> None:
        self.service = service

    async def status(self, call: Call, args: dict[str, Any]) -> Any:
        you = schema.You(uid=call.peer.uid, role=cast(schema.RoleName, call.role.label))
        return schema.to_wire(self.service.status(you))

    async def forward_report(self, call: Call, args: dict[str, Any]) -> Any:
        """The forwarder's state, kept (not recorded) for status and the TUI; an inbound
        command it refused is audited with its uid and MQTT client id."""
        if args.get("refused"):
            self.service.audit_event("mqtt.command_refused", {
                "uid": call.peer.uid, "user": user_name(call.peer.uid),
                "client_id": args.get("client_id", ""), "reason": args["refused"][:200],
                "ok": False})
        self.service.report_forwarder(schema.Forwarder(
            connected=args["connected"], outbox=args["outbox"],
            last_error=args.get("last_error") or None, published=args.get("published"),
            gaps=args.get("gaps"), broker=args.get("broker"),
            uid=call.peer.uid, time=time.time()))
        return schema.to_wire(schema.Reported(ok=True))

    async def alarms_ack(self, call: Call, args: dict[str, Any]) -> Any:
        call.audit.update(alarm=args["alarm"], comment=args.get("comment", ""))
        desk = self._desk()
        try:
            desk.acknowledge(args["alarm"], user_name(call.peer.uid), time.time(),
                             args.get("comment", ""))
            alarm = _acted(desk, args["alarm"])
        except AlarmActionError as exc:
            raise CommandError(str(exc)) from None
        call.audit.update(_alarm_point(alarm))
        return to_wire(alarm)

    async def alarms_shelve(self, call: Call, args: dict[str, Any]) -> Any:
        minutes = float(args["minutes"])
        if not 0 < minutes <= MAX_SHELVE_MINUTES:
            raise CommandError(f"minutes must be between 0 and {MAX_SHELVE_MINUTES}")
        call.audit.update(alarm=args["alarm"], minutes=f"{minutes:g}",
                          reason=args.get("reason", ""))
        desk = self._desk()
        now = time.time()
        try:
            desk.shelve(args["alarm"], user_name(call.peer.uid), now, now + minutes * 60,
                        args.get("reason", ""))
            alarm = _acted(desk, args["alarm"])
        except AlarmActionError as exc:
            raise CommandError(str(exc)) from None
        call.audit.update(_alarm_point(alarm))
        call.audit["until"] = datetime.fromtimestamp(now + minutes * 60, UTC).strftime(
            "%Y-%m-%d %H:%M:%S UTC")
        return to_wire(alarm)

    async def events_list(self, call: Call, args: dict[str, Any]) -> Any:
        layout = self._store()
        from controller.store.handout import list_headers

        headers = await asyncio.to_thread(
            list_headers, layout.database, args.get("since"), args.get("until"),
            requested_kinds(args), int(args.get("limit", 200)),
        )
        return schema.to_wire(_typed(headers, list[schema.EventHeader]))

    async def history_fetch(self, call: Call, args: dict[str, Any]) -> Any:
        layout = self._store()
        from controller.store.handout import hand_out

        kinds = requested_kinds(args)
        await asyncio.to_thread(self.service.flush_store, 5.0)
        handout = await asyncio.to_thread(
            hand_out, layout, args.get("since"), args.get("until"), kinds,
            int(args.get("limit", 2000)),
        )
        return schema.to_wire(_typed(handout, schema.Handout))

    async def config_get(self, call: Call, args: dict[str, Any]) -> Any:
        path = self.service.config_path
        text = None
        if path is not None:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"{path}: cannot read: {exc.strerror}") from None
        return schema.to_wire(schema.ConfigText(
            path=str(path) if path else None, toml=text,
            effective=config_to_dict(self.service.cfg)))

    async def config_validate(self, call: Call, args: dict[str, Any]) -> Any:
        try:
            parse_config(args["toml"], "<candidate>")
        except ConfigError as exc:
            return schema.to_wire(schema.ConfigCheck(valid=False, error=str(exc),
                                                     line=exc.line, key=exc.key))
        return schema.to_wire(schema.ConfigCheck(valid=True, error=None, line=None, key=None))

    async def config_apply(self, call: Call, args: dict[str, Any]) -> Any:
        path = self.service.config_path
        if path is None:
            raise CommandError("the service runs without a config file (no --config)")
        try:
            new = parse_config(args["toml"], str(path))
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        try:
            await asyncio.to_thread(_replace_file, Path(path), args["toml"].encode("utf-8"))
        except OSError as exc:
            raise CommandError(f"{path}: cannot write: {exc.strerror}") from None
        try:
            await self.service.apply_config(new)
        except EdgewardenError as exc:
            raise CommandError(f"written but not applied: {exc}") from None
        return schema.to_wire(schema.ConfigApplied(applied=True, path=str(path)))

    async def node_sample_rate(self, call: Call, args: dict[str, Any]) -> Any:
        hz = float(args["hz"])
        if not 0 < hz <= MAX_SAMPLE_RATE_HZ:
            raise CommandError(f"hz must be between 0 and {MAX_SAMPLE_RATE_HZ:g}")
        if not self.service.link_running():
            raise CommandError("the serial link is not running")
        wanted = args["node"]
        nodes = [n for n in self.service.node_stats() if wanted in (n.name, n.uid)]
        if not nodes:
            raise CommandError(f"no node {wanted!r}")
        node = nodes[0]
        if node.state not in ("online", "under_attack"):
            raise CommandError(f"node {node.name} is {node.state}: it cannot take a setting now")
        from firmware_bridge.messages import ConfigSet

        if not self.service.send_to_node(node.uid, ConfigSet("rate_hz", hz)):
            raise CommandError(f"node {node.name}: the setting could not be sent")
        self.service.set_sample_rate(node.uid, hz)
        self.service.audit_event("node.sample_rate", {"node": node.name, "uid": node.uid,
                                                      "hz": hz, "by": call.peer.uid})
        return schema.to_wire(schema.SampleRateSet(node=node.name, sample_rate_hz=hz))

    async def pair(self, call: Call, args: dict[str, Any]) -> Any:
        """Give a node in pairing mode a fresh key. `node` is a uid or name the service
        knows (a node on a link port: the link lends the port for the exchange), or a
        name with `port` for a port the link does not read. The node that answers must be
        the one asked for; `replace` gives a paired node a new key (rotation)."""
        service = self.service
        wanted = str(args["node"])
        replace = bool(args.get("replace", False))
        link_ports = service.ports_in_use()
        port = args.get("port")
        expect_uid: str | None = None
        name = args.get("name")
        if port is None:
            port, expect_uid, known_name = self._node_port(wanted)
            name = name or known_name
        elif port in link_ports:  # `edgewarden pair PORT` while the service reads PORT
            name = name or next((c.name for c in service.cfg.serial.nodes if c.port == port),
                                None)
        from controller.sensors.keystore import KeystoreError
        from firmware_bridge.pairing import PairingError, pair_over_serial
        from firmware_bridge.signing import KEY_LEN, SecretKey

        store = service.paired_keys()
        key = SecretKey(os.urandom(KEY_LEN))
        chosen: dict[str, str] = {}

        def check(uid: str) -> None:
            if expect_uid is not None and uid != expect_uid:
                raise PairingError(f"node {uid} answered on {port}, not {expect_uid}: "
                                   "nothing was stored")
            chosen["name"] = name or f"node-{uid}"
            try:
                store.check_can_pair(uid, chosen["name"], replace=replace)
            except KeystoreError as exc:
                raise PairingError(str(exc)) from None

        def work() -> tuple[str, str | None]:
            store.ensure_dir()
            paired = pair_over_serial(port, key, check, timeout_s=PAIR_TIMEOUT_S)
            old = store.add(paired.uid, chosen["name"], key,
                            datetime.now(UTC).isoformat(timespec="seconds"), replace=replace)
            return paired.uid, (old.fingerprint if old is not None else None)

        lent = port in link_ports and service.lend_port(port)
        try:
            uid, replaced = await asyncio.to_thread(work)
        except (PairingError, KeystoreError) as exc:
            raise CommandError(f"pairing on {port} failed: {exc}") from None
        finally:
            if lent:
                service.return_port(port)
        service.refresh_keys()
        service.audit_event("node.paired", {"node": chosen["name"], "uid": uid, "port": port,
                                            "replaced_key": replaced, "by": call.peer.uid})
        return schema.to_wire(schema.Paired(node=chosen["name"], uid=uid, port=port,
                                            paired=True, replaced_key=replaced))

    def _node_port(self, wanted: str) -> tuple[str, str | None, str | None]:
        """(port, uid, name) of a node by uid or name: heard by the link, or configured."""
        for n in self.service.node_stats():
            if wanted in (n.uid, n.name):
                configured = next((c.name for c in self.service.cfg.serial.nodes
                                   if c.port == n.port), None)
                return n.port, n.uid, (n.name if n.state != "unpaired" else configured)
        for c in self.service.cfg.serial.nodes:
            if wanted == c.name:
                return c.port, None, c.name
        raise CommandError(f"no node {wanted!r}: give its uid or name as the Nodes screen "
                           "lists it, or a port with `port`")

    async def export(self, call: Call, args: dict[str, Any]) -> Any:
        """A bundle of the last `days` into `dest`, written, verified and renamed there."""
        if args.get("redact"):
            raise CommandError("redaction needs the identity, which the service never holds: "
                               "run `edgewarden export --redact --identity F` instead")
        days = float(args.get("days", self.service.cfg.export.default_days))
        if not 0 < days <= 3650:
            raise CommandError("days must be between 0 and 3650")
        layout = self._store()
        from controller.evidence.bundle import estimate_bundle, export_bundle, removable_mounts
        from controller.evidence.selection import Selection

        now = time.time()
        dest = args.get("dest")
        if args.get("estimate"):
            try:
                records, size = await asyncio.to_thread(
                    estimate_bundle, layout.data_dir,
                    Selection(since=now - days * 86400, until=now))
            except EdgewardenError as exc:
                raise CommandError(str(exc)) from None
            free = None
            if dest:
                import shutil

                with contextlib.suppress(OSError):
                    free = shutil.disk_usage(dest).free
            return schema.to_wire(schema.ExportEstimate(records=records, bytes=size,
                                                        free=free, sticks=removable_mounts()))
        if not dest:
            raise CommandError("export needs dest (a directory, e.g. a mounted stick)")
        selection = _export_selection(args, now, days)
        await asyncio.to_thread(self.service.flush_store, 10.0)

        def audit(body: dict[str, Any]) -> None:
            self.service.audit_event("export", {**body, "by": call.peer.uid})

        try:
            result = await asyncio.to_thread(
                export_bundle, layout.data_dir, Path(dest), selection, now=now,
                name=args.get("name"), on_audit=audit)
        except EdgewardenError as exc:
            raise CommandError(str(exc)) from None
        # export_bundle refuses a bundle with any problem but the media it declares missing
        return schema.to_wire(schema.Exported(
            bundle=str(result.path), records=result.records, selected=result.selected,
            media_files=result.media_files, bytes=result.bytes_written,
            verified=not result.report.problems_besides_missing(),
            missing_media=list(result.missing_media)))

    async def vehicles_list(self, call: Call, args: dict[str, Any]) -> Any:
        return self._vehicles().list(call, args)

    async def vehicles_add(self, call: Call, args: dict[str, Any]) -> Any:
        return await asyncio.to_thread(self._vehicles().add, call, args)

    async def vehicles_remove(self, call: Call, args: dict[str, Any]) -> Any:
        return await asyncio.to_thread(self._vehicles().remove, call, args)

    async def vehicles_import(self, call: Call, args: dict[str, Any]) -> Any:
        return await asyncio.to_thread(self._vehicles().import_csv, call, args)

    def _vehicles(self) -> Any:
        if self.service.vehicles is None:
            raise CommandError("the vehicle register is not loaded")
        return self.service.vehicles

    def _store(self) -> StoreLayout:
        layout = self.service.store_layout()
        if layout is None:
            raise CommandError("the record store is not open")
        return layout

    def _desk(self) -> Any:
        if self.service.desk is None:
            raise CommandError("the anomaly engine is not running")
        return self.service.desk


def _typed(data: Any, kind: type[T]) -> T:
    """What the store hands over as data, as the schema's reply (its shape checked here,
    in the service, so a store change the schema does not name fails the request)."""
    import msgspec

    return msgspec.convert(data, kind)


def _export_selection(args: dict[str, Any], now: float, days: float) -> Any:
    """The records of an export: since..until (a CLI export routed here) or the last days."""
    from controller.evidence.selection import Selection

    sources, kinds = args.get("sources") or [], args.get("kinds") or []
    if not all(isinstance(x, str) for x in [*sources, *kinds]):
        raise CommandError("sources and kinds must be lists of strings")
    if "since" in args or "until" in args:
        since, until = args.get("since"), args.get("until")
    else:
        since, until = now - days * 86400, now
    return Selection(since=since, until=until, sources=tuple(sources), kinds=tuple(kinds))


def _alarm_point(alarm: Alarm) -> dict[str, Any]:
    """What an audit record says of the alarm acted on: its point (channel, rule), state."""
    return {"channel": alarm.channel, "rule": alarm.rule, "state": alarm.state}


def _acted(desk: Any, alarm_id: str) -> Alarm:
    """The answer to `alarms.ack` and `alarms.shelve`: the point as `status` lists it."""
    from controller.service.notices import alarm_of

    return alarm_of(*desk.point(alarm_id))


def _replace_file(path: Path, data: bytes) -> None:
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o640
    write_atomic(path, data, mode)
