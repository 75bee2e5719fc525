"""The wire format, argument checks and role mapping (pure parts)."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from controller.config import ControlConfig
from controller.control.client import ControlClient, ControlError
from controller.control.commands import COMMAND_SPECS, check_args, command_table
from controller.control.protocol import (
    Event,
    ProtocolError,
    Response,
    encode_error,
    encode_event,
    encode_request,
    encode_result,
    parse_request,
    parse_server_message,
)
from controller.control.roles import PeerCred, Role, RoleGroups, RoleResolver, role_for
from tests.service.fake_service import FakeService


def test_request_round_trip() -> None:
    line = encode_request(7, "alarms.ack", {"alarm": "a-1"})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {"v": 2, "id": 7, "cmd": "alarms.ack", "args": {"alarm": "a-1"}}
    req = parse_request(line)
    assert (req.id, req.cmd, req.args) == (7, "alarms.ack", {"alarm": "a-1"})
    assert parse_request('{"v":2,"id":1,"cmd":"status"}').args == {}


@pytest.mark.parametrize(
    ("line", "code", "rid"),
    [
        (b"not json", "invalid", None),
        (b"[1,2]", "invalid", None),
        (b"\xff\xfe", "invalid", None),
        (b'{"v":1,"id":3,"cmd":"status"}', "unsupported_version", 3),
        (b'{"id":3,"cmd":"status"}', "unsupported_version", 3),
        (b'{"v":2,"id":"3","cmd":"status"}', "invalid", None),
        (b'{"v":2,"id":true,"cmd":"status"}', "invalid", None),
        (b'{"v":2,"id":3}', "invalid", 3),
        (b'{"v":2,"id":3,"cmd":""}', "invalid", 3),
        (b'{"v":2,"id":3,"cmd":"status","args":[]}', "invalid", 3),
        (b'{"v":2,"id":3,"cmd":"status","extra":1}', "invalid", 3),
    ],
)
def test_bad_requests(line: bytes, code: str, rid: int | None) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_request(line)
    assert err.value.code == code
    assert err.value.request_id == rid


def test_server_messages_round_trip() -> None:
    assert parse_server_message(encode_result(4, {"a": [1, 2]})) == Response(
        id=4, ok=True, result={"a": [1, 2]})
    assert parse_server_message(encode_error(None, "refused", "no\nway")) == Response(
        id=None, ok=False, code="refused", error="no way")
    assert parse_server_message(encode_event("alarm", 3, 1, {"x": 1})) == Event(
        event="alarm", seq=3, dropped=1, data={"x": 1})
    # NaN is not JSON: sent as null rather than breaking the stream
    assert json.loads(encode_event("reading", 1, 0, {"v": float("nan")}))["data"] == {"v": None}
    with pytest.raises(TypeError):
        encode_result(1, {"raw": b"bytes"})
    with pytest.raises(ProtocolError):
        parse_server_message(b'{"v":2,"ok":"yes"}')
    with pytest.raises(ProtocolError):
        parse_server_message(b'{"v":9,"ok":true}')


def test_check_args() -> None:
    spec = COMMAND_SPECS["alarms.shelve"]
    assert check_args("alarms.shelve", spec, {"alarm": "a", "minutes": 5}) is None
    assert check_args("alarms.shelve", spec, {"alarm": "a", "minutes": 2.5}) is None
    assert "missing argument 'minutes'" in str(check_args("alarms.shelve", spec, {"alarm": "a"}))
    assert "must be int or float" in str(
        check_args("alarms.shelve", spec, {"alarm": "a", "minutes": "5"}))
    assert "must be int or float" in str(
        check_args("alarms.shelve", spec, {"alarm": "a", "minutes": True}))
    assert "unknown argument 'x'" in str(
        check_args("alarms.shelve", spec, {"alarm": "a", "minutes": 1, "x": 1}))
    assert check_args("export", COMMAND_SPECS["export"], {"redact": True}) is None


def test_command_roles_follow_the_architecture() -> None:
    roles = {name: spec.role for name, spec in COMMAND_SPECS.items()}
    assert roles["status"] == roles["subscribe"] == Role.VIEW
    assert roles["alarms.ack"] == roles["alarms.shelve"] == roles["events.list"] == Role.OPS
    assert roles["history.fetch"] == Role.OPS
    assert roles["config.apply"] == roles["pair"] == roles["export"] == Role.ADMIN
    table = command_table(FakeService())
    assert set(table) == set(COMMAND_SPECS)
    assert table["subscribe"].handler is None and table["status"].handler is not None


def test_role_for() -> None:
    groups = RoleGroups(view=100, ops=101, admin=102)
    assert role_for(0, [], groups) == Role.ADMIN
    assert role_for(1000, [5], groups) is None
    assert role_for(1000, [100], groups) == Role.VIEW
    assert role_for(1000, [100, 101], groups) == Role.OPS
    assert role_for(1000, [102], groups) == Role.ADMIN
    assert role_for(1000, [100], RoleGroups(None, None, None)) is None


def test_resolver_uses_supplementary_groups_of_the_account() -> None:
    db = {"edgewarden-view": 900, "edgewarden-ops": 901, "edgewarden-admin": 902}
    users = {1000: "alice", 1001: "bob"}
    members = {"alice": [901], "bob": []}

    r = RoleResolver(
        ControlConfig(),
        gid_of=db.get,
        user_name=users.get,
        grouplist=lambda name, gid: [gid, *members[name]],
    )
    assert r.resolve(PeerCred(pid=1, uid=1000, gid=1000)) == Role.OPS
    assert r.resolve(PeerCred(pid=1, uid=1001, gid=1001)) is None
    assert r.resolve(PeerCred(pid=1, uid=1001, gid=900)) == Role.VIEW  # primary gid counts
    assert r.resolve(PeerCred(pid=1, uid=4242, gid=902)) == Role.ADMIN  # no passwd entry
    assert r.resolve(PeerCred(pid=1, uid=0, gid=0)) == Role.ADMIN
    assert "edgewarden-view" in r.no_role_reason(PeerCred(1, 1001, 1001))


def test_listing_kinds_come_from_kinds_or_kind_and_bad_ones_are_refused() -> None:
    from controller.control.commands import CommandError, requested_kinds

    assert requested_kinds({"kinds": ["event", "alarm"]}) == ["event", "alarm"]
    assert requested_kinds({"kind": "event"}) == ["event"]
    assert requested_kinds({}) is None
    with pytest.raises(CommandError, match="kinds must be a list of strings"):
        requested_kinds({"kinds": ["event", 3]})


def test_a_service_of_another_version_gives_the_client_one_clear_line(tmp_path: Path) -> None:
    """A client meeting a service of another protocol version says so, in one line."""
    path = tmp_path / "control.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def serve() -> None:  # a service of an earlier release: answers in version 1
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b'{"v":1,"id":1,"ok":true,"result":{}}\n')

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with pytest.raises(ControlError) as caught, ControlClient(path) as client:
        client.call("status")
    thread.join(5)
    listener.close()
    message = str(caught.value)
    assert "\n" not in message and "version 1" in message and "speaks 2" in message
