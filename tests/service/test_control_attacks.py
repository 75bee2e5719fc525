"""Attacks on the control socket (issue 14), over the real socket from forked callers.

A local user in the socket's group but in no role group holds connections, floods
refusals and sends oversized JSON; root (admin) must still get in, refusals must be
audited but bounded, and bad JSON must get a typed reply.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.config import ControlConfig
from controller.control.client import ControlClient
from controller.control.refusals import RefusalLimiter

from .control_harness import ServerThread, free_groups, run_as, unused_uid
from .test_control_server import raw_exchange

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to fork children with other uids/gids"
)


@pytest.fixture
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
    with ServerThread(path, cfg, refusals=RefusalLimiter(interval_s=1.0, per_interval=5)) as st:
        yield {"st": st, "path": path, "access": access.gr_gid, "uid": unused_uid()}
    os.rmdir(path.parent)
    os.rmdir(top)


def _hold_idle_connections(path: Path, n: int, seconds: float) -> dict[str, int]:
    """Open n connections, send nothing; count those the server closed meanwhile."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(path))
        s.settimeout(seconds)
        socks.append(s)
    closed = 0
    deadline = time.monotonic() + seconds
    for s in socks:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            while s.recv(4096):
                pass
            closed += 1
        except TimeoutError:
            pass
        s.close()
    return {"opened": n, "closed": closed}


def test_idle_no_role_connections_neither_lock_out_root_nor_stay(env: dict[str, Any]) -> None:
    st: ServerThread = env["st"]
    out: dict[str, Any] = {}
    child = threading.Thread(target=lambda: out.update(run_as(
        env["uid"], env["access"], [env["access"]],
        lambda: _hold_idle_connections(env["path"], 16, 4.0))))
    child.start()
    time.sleep(0.3)  # the 16 connections are open (or refused as busy)
    with ControlClient(env["path"], timeout=5) as root:  # root is admin
        assert root.call("status")["state"] == "running"
    child.join(20)
    assert out["result"]["closed"] == 16  # each closed long before the child gave up
    refusals = [e for e in st.audit if e.uid == env["uid"]]
    assert refusals and all(e.outcome == "refused" for e in refusals)


def _flood_refusals(path: Path, n: int) -> int:
    replies = 0
    with ControlClient(path, timeout=5) as c:
        for _ in range(n):
            try:
                c.call("config.get")
            except Exception:
                replies += 1
    return replies


def test_refusal_flood_is_audited_as_a_few_summaries(env: dict[str, Any]) -> None:
    st: ServerThread = env["st"]
    before = len(st.audit)
    got = run_as(env["uid"], env["access"], [env["access"]],
                 lambda: _flood_refusals(env["path"], 2000))
    assert got["result"] == 2000  # every request got its refusal

    def accounted() -> tuple[list[Any], list[Any], int]:
        entries = [e for e in st.audit[before:] if e.uid == env["uid"]]
        single = [e for e in entries if e.cmd == "config.get"]
        summaries = [e for e in entries if e.cmd == "control.refusals"]
        counted = sum(int((e.reason or "").split()[0]) for e in summaries)
        return single, summaries, counted

    deadline = time.monotonic() + 15  # summaries come at the end of their intervals
    single, summaries, counted = accounted()
    while len(single) + counted < 2000 and time.monotonic() < deadline:
        time.sleep(0.1)
        single, summaries, counted = accounted()
    assert single and summaries
    assert len(single) <= 5 * (len(summaries) + 1)  # at most 5 one by one per interval
    assert len(single) + len(summaries) < 200  # not 2,000 audit records
    assert len(single) + counted == 2000  # every refusal accounted for


def test_huge_numbers_and_deep_json_get_a_typed_reply_and_an_audit(
        env: dict[str, Any]) -> None:
    st: ServerThread = env["st"]
    before = len(st.audit)
    replies = raw_exchange(
        env["path"],
        b'{"v":2,"id":' + b"9" * 5000 + b',"cmd":"status"}\n',
        b'{"v":2,"id":2,"cmd":"status","args":{"a":' + b"[" * 5000 + b"]" * 5000 + b"}}\n",
        b'{"v":2,"id":3,"cmd":"status","args":{"x":1e99999}}\n',
        b'{"v":2,"id":4,"cmd":"status"}\n',
    )
    assert [r.get("code") for r in replies] == ["too_complex", "too_complex", "too_complex",
                                                None]
    assert replies[-1]["ok"] is True  # the connection survived all three
    assert [e.outcome for e in st.audit[before:]][:3] == ["invalid"] * 3
