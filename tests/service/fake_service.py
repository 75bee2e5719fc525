"""An in-memory stand-in for the service's control handlers.

Tests of the control socket, `edgewarden status` and the TUI use it instead of a real
service; it keeps a few alarms and events, validates configs with the real schema, and
records every call it receives (who, which command) so tests can assert on them. Every
answer is built from `controller.control.schema`'s Structs, so it is a shape the real
service sends.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, cast

import msgspec

from controller.config import ConfigError, parse_config
from controller.control import schema
from controller.control.commands import Call, CommandError, requested_kinds

from .status_sample import T0, sample_node, sample_status


def _alarm(alarm_id: str, channel: str, priority: str) -> schema.Alarm:
    return schema.Alarm(
        id=alarm_id, channel=channel, rule="limits", state="active_unack", condition=True,
        severity="critical", priority=priority, value=40.0, since=T0 - 60, peak=40.0,
        acked_by=None, acked_at=None, comment=None, shelved_by=None, shelved_until=None,
        shelve_reason=None, suppressed=None, chatter_per_hour=0, chattering=False,
        detail=None, message=None)


def _header(seq: int, t: float, kind: str, source: str, severity: str) -> schema.EventHeader:
    return schema.EventHeader(id=seq, time=t, epoch=0, kind=kind, source=source,
                              severity=severity, media=0)


@dataclass
class FakeService:
    """Implements :class:`controller.control.commands.ControlHandlers`."""

    state: schema.Status = field(default_factory=lambda: sample_status(
        nodes=[sample_node("shed", "/dev/edgewarden/node-E6614103")],
        alarms=[_alarm("a-1", "shed/temp_c", "high")]))
    alarms: dict[str, schema.Alarm] = field(default_factory=lambda: {
        "a-1": _alarm("a-1", "shed/temp_c", "high")})
    events: list[schema.EventHeader] = field(default_factory=lambda: [
        _header(1, T0, "alarm", "shed/temp_c", "critical"),
        _header(2, T0 + 60, "event", "cam0/person", "info"),
    ])
    config_toml: str = "[device]\nname = \"fake\"\n"
    calls: list[tuple[int, str]] = field(default_factory=list)

    def _log(self, call: Call, cmd: str) -> None:
        self.calls.append((call.peer.uid, cmd))

    async def status(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "status")
        you = schema.You(uid=call.peer.uid, role=cast(schema.RoleName, call.role.label))
        return schema.to_wire(msgspec.structs.replace(self.state, you=you))

    def _acted(self, alarm_id: str, **change: Any) -> Any:
        alarm = self.alarms.get(alarm_id)
        if alarm is None:
            raise CommandError(f"no alarm {alarm_id!r}")
        self.alarms[alarm_id] = msgspec.structs.replace(alarm, **change)
        return schema.to_wire(self.alarms[alarm_id])

    async def alarms_ack(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "alarms.ack")
        return self._acted(args["alarm"], state="active_ack", acked_by=f"uid {call.peer.uid}",
                           acked_at=T0, comment=args.get("comment"))

    async def alarms_shelve(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "alarms.shelve")
        if args["minutes"] <= 0:
            raise CommandError("minutes must be positive")
        return self._acted(args["alarm"], state="shelved", shelved_by=f"uid {call.peer.uid}",
                           shelved_until=T0 + args["minutes"] * 60,
                           shelve_reason=args.get("reason"))

    async def events_list(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "events.list")
        since = args.get("since", float("-inf"))
        kinds = requested_kinds(args)
        found = [e for e in self.events if e.time >= since
                 and (kinds is None or e.kind in kinds)]
        return schema.to_wire(found[: args.get("limit", 100)])

    async def history_fetch(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "history.fetch")
        b64 = base64.b64encode
        return schema.to_wire(schema.Handout(
            format=1,
            records=[schema.HandoutRecord(
                id=1, time=T0, epoch=0, kind="alarm", source="shed/temp_c",
                severity="critical", prev_hash=b64(b"\0" * 32).decode(),
                ct=b64(b"opaque").decode(), seal="sealed")],
            epoch_keys={"0": b64(b"age-encrypted").decode()}, media={}, media_omitted=0,
            identity=b64(b"age-scrypt-encrypted").decode()))

    async def config_get(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "config.get")
        return schema.to_wire(schema.ConfigText(path="/etc/edgewarden/config.toml",
                                                toml=self.config_toml, effective={}))

    async def config_validate(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "config.validate")
        try:
            parse_config(args["toml"], "<candidate>")
        except ConfigError as exc:
            return schema.to_wire(schema.ConfigCheck(valid=False, error=str(exc),
                                                     line=exc.line, key=exc.key))
        return schema.to_wire(schema.ConfigCheck(valid=True, error=None, line=None, key=None))

    async def config_apply(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "config.apply")
        try:
            parse_config(args["toml"], "<candidate>")
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        self.config_toml = args["toml"]
        return schema.to_wire(schema.ConfigApplied(applied=True,
                                                   path="/etc/edgewarden/config.toml"))

    async def node_sample_rate(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "node.sample_rate")
        if not 0 < args["hz"] <= 100:
            raise CommandError("hz must be between 0 and 100")
        return schema.to_wire(schema.SampleRateSet(node=args["node"],
                                                   sample_rate_hz=float(args["hz"])))

    async def pair(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "pair")
        return schema.to_wire(schema.Paired(node=args.get("name") or args["node"],
                                            uid="E6614103", port=args.get("port", "fake"),
                                            paired=True, replaced_key=None))

    async def export(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "export")
        if args.get("estimate"):
            return schema.to_wire(schema.ExportEstimate(records=0, bytes=0, free=None,
                                                        sticks=[]))
        return schema.to_wire(schema.Exported(
            bundle="/media/EDGEWARDEN/edgewarden-fake.bag", records=0, selected=0,
            media_files=0, bytes=0, verified=True, missing_media=[]))

    async def vehicles_list(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "vehicles.list")
        return schema.to_wire(schema.VehicleList(entries=[]))

    def _entry(self, args: dict[str, Any]) -> Any:
        return schema.to_wire(schema.VehicleEntry(plate=args["plate"],
                                                  list=args.get("list", "watch"), label="",
                                                  note="", priority=""))

    async def vehicles_add(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "vehicles.add")
        return self._entry(args)

    async def vehicles_remove(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "vehicles.remove")
        return self._entry(args)

    async def vehicles_import(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "vehicles.import")
        return schema.to_wire(schema.VehiclesImported(imported=0))

    async def forward_report(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "forward.report")
        return schema.to_wire(schema.Reported(ok=True))
