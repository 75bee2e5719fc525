"""Inbound commands on ``<prefix>/<device>/command`` (only with `inbound_commands`).

Only two are accepted: ``{"command": "ack", "alarm": ID, "comment": ...}`` and
``{"command": "shelve", "alarm": ID, "minutes": N, "reason": ...}``. They run as the
forwarder's own control-socket user (its role decides, the service audits them with its
uid) and carry the MQTT client id in the comment. Anything else is refused, counted, and
reported to the service, which audits it with the forwarder's uid and client id.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from controller.forward import payloads as p
from controller.forward.topics import Topics

Runner = Callable[[str, dict[str, Any]], Awaitable[tuple[bool, str]]]


class CommandRefused(ValueError):
    pass


def parse_command(raw: bytes) -> tuple[str, dict[str, Any]]:
    """(control command, its args) for an accepted payload; raises CommandRefused (pure)."""
    try:
        obj = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CommandRefused("not a JSON object") from None
    if not isinstance(obj, dict):
        raise CommandRefused("not a JSON object")
    command, alarm = obj.get("command"), obj.get("alarm")
    if command not in ("ack", "shelve"):
        raise CommandRefused(f"command {str(command)[:40]!r} is not accepted "
                             f"(only ack and shelve)")
    if not isinstance(alarm, str) or not alarm:
        raise CommandRefused(f"{command}: 'alarm' must be an alarm id")
    allowed = {"command", "alarm", "comment"} if command == "ack" else \
        {"command", "alarm", "minutes", "reason"}
    extra = sorted(set(obj) - allowed)
    if extra:
        raise CommandRefused(f"{command}: unknown field(s) {', '.join(extra)}")
    if command == "ack":
        comment = obj.get("comment", "")
        if not isinstance(comment, str):
            raise CommandRefused("ack: 'comment' must be text")
        return "alarms.ack", {"alarm": alarm, "comment": comment}
    minutes = obj.get("minutes")
    if not isinstance(minutes, int | float) or isinstance(minutes, bool):
        raise CommandRefused("shelve: 'minutes' must be a number")
    reason = obj.get("reason", "")
    if not isinstance(reason, str):
        raise CommandRefused("shelve: 'reason' must be text")
    return "alarms.shelve", {"alarm": alarm, "minutes": minutes, "reason": reason}


class CommandHandler:
    def __init__(self, topics: Topics, client_id: str) -> None:
        self.topics = topics
        self.client_id = client_id
        self.refused = 0
        self.accepted = 0
        self._n = 0

    async def handle(self, raw: bytes, run: Runner) -> bytes:
        self._n += 1
        msg_id = f"command:{self._n}"
        try:
            cmd, args = parse_command(raw)
        except CommandRefused as exc:
            self.refused += 1
            await run("forward.report", {"refused": str(exc), "client_id": self.client_id})
            return p.encode(p.CommandResult(msg_id, "?", None, False, str(exc)))
        key = "comment" if cmd == "alarms.ack" else "reason"
        args[key] = f"{args[key]} [via MQTT client {self.client_id}]".strip()
        ok, reason = await run(cmd, args)
        if ok:
            self.accepted += 1
        else:
            self.refused += 1
        return p.encode(p.CommandResult(msg_id, cmd, args["alarm"], ok, reason))
