"""Every command reply has one type in the schema, and the handlers and doubles send it.

The strict decode (msgspec, unknown fields refused) is what keeps the service, its clients
and the test doubles on one shape; the real service's replies are decoded the same way in
tests/service_run/test_wire_schema.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest

from controller.control import schema
from controller.control.commands import COMMAND_SPECS, SERVER_COMMANDS, Call
from controller.control.roles import PeerCred, Role
from controller.errors import EdgewardenError
from controller.service.handlers import ServiceHandlers
from firmware_bridge.link import NodeStats
from tests.service.fake_service import FakeService
from tests.service.surface_double import SurfaceDouble

ALARM_COMMANDS = {"alarms.ack", "alarms.shelve"}  # answered with the alarm (schema.Alarm)


def _strict(value: Any, kind: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value), type=kind, strict=True)


def _call(role: Role = Role.ADMIN) -> Call:
    return Call(PeerCred(pid=1, uid=1000, gid=1000), role, 1)


def test_every_command_has_its_reply_type() -> None:
    replied = set(COMMAND_SPECS) - SERVER_COMMANDS - ALARM_COMMANDS
    assert replied <= set(schema.REPLIES), replied - set(schema.REPLIES)
    assert set(schema.REPLIES) - replied == {"export.estimate"}  # export's audited variant


def test_the_handlers_replies_decode_strictly(tmp_path: Path) -> None:
    double = SurfaceDouble(tmp_path, nodes=[NodeStats("u1", "shed", "/dev/n1", "online")])
    handlers = ServiceHandlers(double)
    asked: list[tuple[str, dict[str, Any]]] = [
        ("status", {}), ("config.get", {}), ("config.validate", {"toml": "[device]\n"}),
        ("node.sample_rate", {"node": "shed", "hz": 2}),
        ("forward.report", {"connected": False, "outbox": 1, "last_error": "refused"}),
    ]
    for cmd, args in asked:
        reply = asyncio.run(getattr(handlers, cmd.replace(".", "_"))(_call(), args))
        _strict(reply, schema.REPLIES[cmd])
    status = _strict(asyncio.run(handlers.status(_call(Role.OPS), {})), schema.Status)
    assert status.you == schema.You(uid=1000, role="ops")  # the role by name, not "2"
    assert double.forwarder is not None and double.forwarder.last_error == "refused"


@pytest.mark.parametrize("cmd", sorted(set(COMMAND_SPECS) - SERVER_COMMANDS))
def test_the_fake_service_answers_as_the_schema(cmd: str) -> None:
    args: dict[str, Any] = {
        "alarms.ack": {"alarm": "a-1"}, "alarms.shelve": {"alarm": "a-1", "minutes": 5},
        "config.validate": {"toml": "[device]\n"}, "config.apply": {"toml": "[device]\n"},
        "node.sample_rate": {"node": "shed", "hz": 2}, "pair": {"node": "shed"},
        "export": {"dest": "/media/x"}, "vehicles.add": {"plate": "AB12CDE", "list": "watch"},
        "vehicles.remove": {"plate": "AB12CDE"}, "vehicles.import": {"csv": ""},
        "forward.report": {"connected": True, "outbox": 0},
    }.get(cmd, {})
    reply = asyncio.run(getattr(FakeService(), cmd.replace(".", "_"))(_call(), args))
    _strict(reply, schema.Alarm if cmd in ALARM_COMMANDS else schema.REPLIES[cmd])


def test_a_reply_of_another_shape_is_one_clear_line() -> None:
    with pytest.raises(schema.ReplyMismatch) as err:
        schema.decode_reply("pair", {"node": "n", "paired": True}, schema.Paired)
    text = str(err.value)
    assert len(text.splitlines()) == 1 and "pair" in text and "same release" in text
    assert isinstance(err.value, EdgewardenError) and err.value.exit_code == 1


def test_an_old_numeric_role_is_refused() -> None:
    """Before protocol 2 the role went as "3"; a client reads names only."""
    with pytest.raises(schema.ReplyMismatch, match="role"):
        schema.decode_reply("status", {**schema.to_wire(
            FakeService().state), "you": {"uid": 0, "role": "3"}}, schema.Status)
    assert Role.parse("3") is Role.NONE and Role.parse("admin") is Role.ADMIN
