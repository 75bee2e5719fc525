"""Role enforcement over the real Unix socket, from forked children with other uids/gids.

Needs root (to setuid/setgid in the children); skipped otherwise. The role and access
groups are existing member-less groups of this machine, named in a ControlConfig, so the
test never edits /etc/group.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.config import ControlConfig
from controller.control.client import CommandFailed, ControlClient, ServiceUnavailable

from .control_harness import ServerThread, free_groups, run_as, unused_uid

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to fork children with other uids/gids"
)

PROBES: list[tuple[str, dict[str, Any]]] = [
    ("status", {}),
    ("subscribe", {"events": ["alarm"]}),
    ("events.list", {}),
    ("alarms.ack", {"alarm": "a-1"}),
    ("alarms.shelve", {"alarm": "a-1", "minutes": 10}),
    ("history.fetch", {}),
    ("config.get", {}),
    ("config.validate", {"toml": ""}),
    ("config.apply", {"toml": "[device]\nname = \"x\"\n"}),
    ("pair", {"node": "n1"}),
    ("export", {}),
]

EXPECTED = {
    "view": {"status", "subscribe"},
    "ops": {"status", "subscribe", "events.list", "alarms.ack", "alarms.shelve",
            "history.fetch", "config.get", "config.validate"},
    "admin": {name for name, _ in PROBES},
}


@pytest.fixture(scope="module")
def env() -> Iterator[dict[str, Any]]:
    groups = free_groups(4)
    if len(groups) < 4:
        pytest.skip("needs four member-less groups on this machine")
    access, view, ops, admin = groups
    cfg = ControlConfig(socket_group=access.gr_name, view_group=view.gr_name,
                        ops_group=ops.gr_name, admin_group=admin.gr_name)
    top = Path(tempfile.mkdtemp(prefix="ew-", dir="/tmp"))
    top.chmod(0o711)
    path = top / "run" / "control.sock"
    with ServerThread(path, cfg) as st:
        yield {"st": st, "path": path, "access": access.gr_gid, "view": view.gr_gid,
               "ops": ops.gr_gid, "admin": admin.gr_gid, "uid": unused_uid()}
    os.rmdir(path.parent)
    os.rmdir(top)


def probe_all(path: Path) -> dict[str, str]:
    out = {}
    with ControlClient(path, timeout=5) as c:
        for cmd, args in PROBES:
            try:
                c.call(cmd, args)
                out[cmd] = "ok"
            except CommandFailed as exc:
                out[cmd] = f"{exc.code}: {exc}"
    return out


@pytest.mark.parametrize("role", ["view", "ops", "admin"])
def test_role_allows_exactly_its_commands(env: dict[str, Any], role: str) -> None:
    uid = env["uid"]
    st: ServerThread = env["st"]
    before = len(st.audit)
    got = run_as(uid, env[role], [env["access"]], lambda: probe_all(env["path"]))
    assert "result" in got, got
    result = got["result"]
    allowed = {cmd for cmd, outcome in result.items() if outcome == "ok"}
    assert allowed == EXPECTED[role]
    for cmd, outcome in result.items():
        if cmd not in EXPECTED[role]:
            assert outcome.startswith("refused:"), (cmd, outcome)
            assert f"has role {role}" in outcome  # the reason names the caller's role
    # one audit entry per command, with the child's uid and the outcome
    entries = st.audit[before:]
    assert [e.cmd for e in entries] == [cmd for cmd, _ in PROBES]
    assert {e.uid for e in entries} == {uid}
    assert all(e.role == role for e in entries)
    assert {e.cmd for e in entries if e.outcome == "ok"} == EXPECTED[role]
    assert {e.cmd for e in entries if e.outcome == "refused"} == (
        {c for c, _ in PROBES} - EXPECTED[role])


def test_member_of_no_role_group_is_refused_everything(env: dict[str, Any]) -> None:
    got = run_as(env["uid"], env["access"], [env["access"]], lambda: probe_all(env["path"]))
    assert set(got["result"].values()) != {"ok"}
    for outcome in got["result"].values():
        assert outcome.startswith("refused:") and "none of the groups" in outcome


def test_outsider_cannot_even_connect(env: dict[str, Any]) -> None:
    def connect() -> str:
        try:
            with ControlClient(env["path"], timeout=5) as c:
                c.call("status")
        except ServiceUnavailable as exc:
            return str(exc)
        return "connected"

    # in the admin group, but not in the socket's access group: the file mode stops it
    got = run_as(env["uid"], env["admin"], [], connect)
    assert "permission denied" in got["result"]


def test_root_is_admin(env: dict[str, Any]) -> None:
    result = probe_all(env["path"])
    assert {c for c, o in result.items() if o == "ok"} == EXPECTED["admin"]
    assert env["st"].audit[-1].uid == 0 and env["st"].audit[-1].role == "admin"


def test_socket_and_directory_permissions(env: dict[str, Any]) -> None:
    path: Path = env["path"]
    st = path.stat()
    assert st.st_mode & 0o777 == 0o660
    assert st.st_gid == env["access"]
    d = path.parent.stat()
    assert d.st_mode & 0o777 == 0o750
    assert d.st_gid == env["access"]


def test_status_command_works_for_the_view_role(env: dict[str, Any]) -> None:
    import contextlib
    import io

    from controller.cli import build_parser, main

    # the child cannot read the interpreter's files under /root: import everything first
    build_parser()
    main(["status", "--socket", str(env["path"]), "--json"])

    def status() -> list[Any]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["status", "--socket", str(env["path"]), "--json"])
        return [code, out.getvalue()]

    code, out = run_as(env["uid"], env["view"], [env["access"]], status)["result"]
    assert code == 0
    assert '"state": "running"' in out
