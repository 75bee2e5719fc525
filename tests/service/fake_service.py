"""An in-memory stand-in for the service's control handlers.

Tests of the control socket, `edgewarden status` and the TUI use it instead of a real
service; it keeps a few alarms and events, validates configs with the real schema, and
records every call it receives (who, which command) so tests can assert on them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from controller.config import ConfigError, parse_config
from controller.control.commands import Call, CommandError, requested_kinds


@dataclass
class FakeService:
    """Implements :class:`controller.control.commands.ControlHandlers`."""

    state: dict[str, Any] = field(default_factory=lambda: {
        "state": "running",
        "version": "0.1.0",
        "uptime_s": 12.0,
        "nodes": [{"name": "shed", "port": "/dev/edgewarden/node-E6614103", "state": "online",
                   "readings": 120, "rejected": 0}],
        "cameras": [],
        "alarms": {"active": 1, "unacknowledged": 1, "shelved": 0},
        "queues": {"readings_dropped": 0},
    })
    alarms: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        "a-1": {"id": "a-1", "channel": "shed/temp_c", "state": "active-unacknowledged",
                "priority": "high"},
    })
    events: list[dict[str, Any]] = field(default_factory=lambda: [
        {"id": 1, "time": 1_700_000_000.0, "kind": "alarm", "source": "shed/temp_c",
         "severity": "high"},
        {"id": 2, "time": 1_700_000_060.0, "kind": "event", "source": "cam0/person",
         "severity": "medium"},
    ])
    config_toml: str = "[device]\nname = \"fake\"\n"
    calls: list[tuple[int, str]] = field(default_factory=list)

    def _log(self, call: Call, cmd: str) -> None:
        self.calls.append((call.peer.uid, cmd))

    async def status(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "status")
        return self.state

    async def alarms_ack(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "alarms.ack")
        alarm = self.alarms.get(args["alarm"])
        if alarm is None:
            raise CommandError(f"no alarm {args['alarm']!r}")
        alarm["state"] = "active-acknowledged"
        return alarm

    async def alarms_shelve(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "alarms.shelve")
        alarm = self.alarms.get(args["alarm"])
        if alarm is None:
            raise CommandError(f"no alarm {args['alarm']!r}")
        if args["minutes"] <= 0:
            raise CommandError("minutes must be positive")
        alarm["state"] = "shelved"
        alarm["shelved_minutes"] = args["minutes"]
        return alarm

    async def events_list(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "events.list")
        since = args.get("since", float("-inf"))
        kinds = requested_kinds(args)
        found = [e for e in self.events if e["time"] >= since
                 and (kinds is None or e["kind"] in kinds)]
        return found[: args.get("limit", 100)]

    async def history_fetch(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "history.fetch")
        return {
            "records": [{"id": 1, "epoch": 0, "nonce": base64.b64encode(b"\0" * 12).decode(),
                         "ciphertext": base64.b64encode(b"opaque").decode()}],
            "epoch_keys": {"0": base64.b64encode(b"age-encrypted").decode()},
            "identity": base64.b64encode(b"age-scrypt-encrypted").decode(),
        }

    async def config_get(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "config.get")
        return {"toml": self.config_toml}

    async def config_validate(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "config.validate")
        try:
            parse_config(args["toml"], "<candidate>")
        except ConfigError as exc:
            return {"valid": False, "error": str(exc)}
        return {"valid": True, "error": None}

    async def config_apply(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "config.apply")
        try:
            parse_config(args["toml"], "<candidate>")
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        self.config_toml = args["toml"]
        return {"applied": True}

    async def node_sample_rate(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "node.sample_rate")
        if not 0 < args["hz"] <= 100:
            raise CommandError("hz must be between 0 and 100")
        return {"node": args["node"], "sample_rate_hz": args["hz"]}

    async def pair(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "pair")
        return {"node": args["node"], "paired": True}

    async def export(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "export")
        return {"bundle": "/media/EDGEWARDEN/edgewarden-fake.bag", "records": 0}

    async def vehicles_list(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "vehicles.list")
        return {"entries": []}

    async def vehicles_add(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "vehicles.add")
        return {"plate": args["plate"], "list": args["list"]}

    async def vehicles_remove(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "vehicles.remove")
        return {"plate": args["plate"]}

    async def vehicles_import(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "vehicles.import")
        return {"imported": 0}
    async def forward_report(self, call: Call, args: dict[str, Any]) -> Any:
        self._log(call, "forward.report")
        return {"ok": True}
