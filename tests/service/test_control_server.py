"""The control server in-process: errors, audit, subscriptions, drops, no TCP/UDP."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from controller.config import Config, ControlConfig, DeviceConfig
from controller.control.address import socket_path
from controller.control.client import (
    AsyncControlClient,
    CommandFailed,
    ControlClient,
    ServiceUnavailable,
)
from controller.control.commands import Call, command_table
from controller.control.roles import RoleResolver
from controller.control.schema import ControlQueue
from controller.control.server import AuditEntry, ControlServer
from controller.errors import EdgewardenError
from tests.service.fake_service import FakeService

from .control_harness import ServerThread


@pytest.fixture
def sock_path() -> Iterator[Path]:
    top = Path(tempfile.mkdtemp(prefix="ew-", dir="/tmp"))
    yield top / "run" / "control.sock"
    for p in sorted(top.rglob("*"), reverse=True):
        p.unlink() if not p.is_dir() else p.rmdir()
    top.rmdir()


CFG = ControlConfig(socket_group="")


def raw_exchange(path: Path, *lines: bytes) -> list[dict[str, Any]]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(path))
        for line in lines:
            s.sendall(line)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return [json.loads(x) for x in data.splitlines()]


def test_bad_lines_get_clear_errors_and_audit(sock_path: Path) -> None:
    with ServerThread(sock_path, CFG) as st:
        replies = raw_exchange(
            sock_path,
            b"hello\n",
            b'{"v":1,"id":1,"cmd":"status"}\n',
            b'{"v":2,"id":2,"cmd":"reboot"}\n',
            b'{"v":2,"id":3,"cmd":"alarms.ack","args":{}}\n',
            b'{"v":2,"id":4,"cmd":"alarms.ack","args":{"alarm":"nope"}}\n',
            b"\n",
            b'{"v":2,"id":5,"cmd":"status"}\n',
        )
    assert [(r["id"], r["ok"], r.get("code")) for r in replies] == [
        (None, False, "invalid"),
        (1, False, "unsupported_version"),
        (2, False, "unknown_command"),
        (3, False, "invalid"),
        (4, False, "failed"),
        (5, True, None),
    ]
    assert "reboot" in replies[2]["error"]
    assert "missing argument 'alarm'" in replies[3]["error"]
    assert "no alarm 'nope'" in replies[4]["error"]
    assert [(e.cmd, e.outcome) for e in st.audit] == [
        ("?", "invalid"), ("?", "invalid"), ("reboot", "invalid"),
        ("alarms.ack", "invalid"), ("alarms.ack", "failed"), ("status", "ok"),
    ]
    assert all(e.uid == os.getuid() and e.pid == os.getpid() for e in st.audit)


def test_handler_crash_does_not_leak_details(sock_path: Path) -> None:
    async def boom(call: Call, args: dict[str, Any]) -> Any:
        raise RuntimeError("key=deadbeefdeadbeef")

    with ServerThread(sock_path, CFG) as st:
        st.fake.status = boom  # type: ignore[method-assign]
        st.server.table = command_table(st.fake)
        with ControlClient(sock_path) as c:
            with pytest.raises(CommandFailed) as err:
                c.call("status")
            assert err.value.code == "internal"
            assert "deadbeef" not in str(err.value)
            assert c.call("config.get")["toml"]  # the connection survives
    assert st.audit[0].outcome == "error" and "deadbeef" not in str(st.audit[0])


def test_subscription_streams_events_in_order(sock_path: Path) -> None:
    with ServerThread(sock_path, CFG) as st, ControlClient(sock_path) as c:
        assert c.subscribe(["alarm", "health"]) == {"events": ["alarm", "health"],
                                                    "queue_size": 256}

        def publish() -> None:
            st.server.publish("reading", {"v": 1})  # not subscribed: filtered out
            st.server.publish("alarm", {"id": "a-1"})
            st.server.publish("health", {"cpu_temp_c": 50.0})

        st.call_soon(publish)
        got = list(c.events(timeout=0.5))
        assert [(e.event, e.seq, e.dropped, e.data) for e in got] == [
            ("alarm", 1, 0, {"id": "a-1"}), ("health", 2, 0, {"cpu_temp_c": 50.0})]
        # requests still work on a subscribed connection, events in between are kept
        st.call_soon(lambda: st.server.publish("alarm", {"id": "a-2"}))
        assert c.call("status")["state"] == "running"
        assert [e.data for e in c.events(timeout=0.5)] == [{"id": "a-2"}]
        assert c.call("unsubscribe") == {"events": []}
        st.call_soon(lambda: st.server.publish("alarm", {"id": "a-3"}))
        assert list(c.events(timeout=0.3)) == []
        with pytest.raises(CommandFailed, match="events must be some of"):
            c.call("subscribe", {"events": ["gossip"]})


def test_slow_subscriber_drops_are_counted(sock_path: Path) -> None:
    with ServerThread(sock_path, CFG, queue_size=4) as st, ControlClient(sock_path) as c:
        c.subscribe(["reading"])

        def flood() -> None:  # no await in between: the pump cannot drain meanwhile
            for i in range(100):
                st.server.publish("reading", {"i": i})

        st.call_soon(flood)
        got = list(c.events(timeout=0.5))
        assert [e.data["i"] for e in got] == [0, 1, 2, 3]
        assert got[-1].dropped == 96
        assert st.run(_stats(st.server)).events_dropped == 96
        st.server.publish_threadsafe("reading", {"i": 100})
        (late,) = list(c.events(timeout=0.5))
        assert late.seq == 101 and late.dropped == 96  # the gap in seq shows the drops


async def _stats(server: ControlServer) -> ControlQueue:
    return server.stats()


def test_too_many_clients_and_too_large_requests(sock_path: Path) -> None:
    with ServerThread(sock_path, CFG, max_clients=1, max_request_bytes=1024) as st:
        with ControlClient(sock_path) as first:
            first.call("status")
            with ControlClient(sock_path) as second, pytest.raises(CommandFailed) as err:
                second.call("status")
            assert err.value.code == "busy"
        # the server frees the first client's slot asynchronously after it hangs up
        deadline = time.monotonic() + 30  # a loaded machine can take seconds
        while True:
            replies = raw_exchange(sock_path, b'{"v":2,"id":1,"cmd":"status","x":"' + b"a" * 5000)
            if replies[-1]["code"] != "busy" or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert replies[-1]["code"] == "too_large"
        assert st.audit[-1].outcome == "invalid"


def test_no_tcp_or_udp_socket_while_serving(sock_path: Path) -> None:
    with ServerThread(sock_path, CFG), ControlClient(sock_path) as c:
        c.subscribe()
        c.call("status")
        inet = psutil.Process().net_connections(kind="inet")
        assert inet == []
        unix = psutil.Process().net_connections(kind="unix")
        # bound under a temp name then renamed into place; the kernel keeps the bind name
        assert any(str(sock_path.parent) in u.laddr for u in unix)


def test_socket_file_lifecycle(sock_path: Path) -> None:
    with ServerThread(sock_path, CFG):
        assert sock_path.is_socket()
        # a second service on the same path is refused, the first keeps serving
        other = ServerThread(sock_path, CFG)
        with pytest.raises(EdgewardenError, match="already serving"):
            other.thread.start()
            try:
                other.run(other.server.start())
            finally:
                other.loop.call_soon_threadsafe(other.loop.stop)
                other.thread.join(5)
                other.loop.close()
        with ControlClient(sock_path) as c:
            assert c.call("status")
    assert not sock_path.exists()  # removed on close

    # a stale socket left by a crash is replaced
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock_path))
    stale.close()
    with ServerThread(sock_path, CFG), ControlClient(sock_path) as c:
        assert c.call("status")

    # a regular file is never replaced
    sock_path.write_text("precious")
    st = ServerThread(sock_path, CFG)
    st.thread.start()
    try:
        with pytest.raises(EdgewardenError, match="not a socket"):
            st.run(st.server.start())
    finally:
        st.loop.call_soon_threadsafe(st.loop.stop)
        st.thread.join(5)
        st.loop.close()
    assert sock_path.read_text() == "precious"


def test_clients_report_a_missing_service(tmp_path: Path) -> None:
    with pytest.raises(ServiceUnavailable, match="service not running"):
        ControlClient(tmp_path / "none.sock").connect()

    async def go() -> None:
        await AsyncControlClient.connect(tmp_path / "none.sock")

    with pytest.raises(ServiceUnavailable, match="service not running"):
        asyncio.run(go())


def in_loop(sock_path: Path, body: Callable[[ControlServer, list[AuditEntry]],
                                            Awaitable[None]]) -> None:
    async def main() -> None:
        audit: list[AuditEntry] = []
        cfg = Config(device=DeviceConfig(runtime_dir=sock_path.parent),
                     control=ControlConfig(socket_group=""))
        assert socket_path(cfg) == sock_path
        server = ControlServer.from_config(cfg, FakeService(), audit.append,
                                           resolver=RoleResolver(cfg.control))
        async with server:
            await body(server, audit)

    asyncio.run(main())


def test_async_client(sock_path: Path) -> None:
    async def body(server: ControlServer, audit: list[AuditEntry]) -> None:
        async with await AsyncControlClient.connect(sock_path) as c:
            results = await asyncio.gather(c.call("status"), c.call("events.list", {"limit": 1}),
                                           c.call("config.get"))
            assert results[0]["state"] == "running"
            assert len(results[1]) == 1
            with pytest.raises(CommandFailed) as err:
                await c.call("alarms.shelve", {"alarm": "a-1", "minutes": 0})
            assert err.value.code == "failed"
            await c.subscribe(["detection"])
            server.publish("detection", {"label": "person"})
            server.publish("reading", {"v": 1})
            server.publish("detection", {"label": "car"})
            stream = c.events()
            first = await asyncio.wait_for(anext(stream), 2)
            second = await asyncio.wait_for(anext(stream), 2)
            assert [first.data["label"], second.data["label"]] == ["person", "car"]
        assert [e.outcome for e in audit] == ["ok", "ok", "ok", "failed", "ok"]

    in_loop(sock_path, body)


def test_async_client_sees_the_service_go_away(sock_path: Path) -> None:
    async def body(server: ControlServer, audit: list[AuditEntry]) -> None:
        c = await AsyncControlClient.connect(sock_path)
        await c.subscribe()
        await server.close()
        assert [e async for e in c.events()] == []  # the stream ends
        with pytest.raises(ServiceUnavailable):
            await c.call("status")
        await c.close()

    in_loop(sock_path, body)


def test_a_busy_refusal_is_reported_even_when_the_request_cannot_be_written(
        sock_path: Path) -> None:
    """A full server answers `busy` and hangs up at once; a client whose request's write
    then fails still reports busy, not that the service went away."""
    import threading

    from controller.control.protocol import encode_error

    sock_path.parent.mkdir(parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(1)
    refused = threading.Event()

    def refuse() -> None:
        conn, _ = listener.accept()
        conn.sendall(encode_error(None, "busy", "too many clients connected"))
        conn.close()
        refused.set()

    thread = threading.Thread(target=refuse)
    thread.start()
    try:
        with ControlClient(sock_path) as client:
            assert refused.wait(10)
            with pytest.raises(CommandFailed) as err:
                for _ in range(50):  # until the write meets the closed peer
                    client.call("status")
            assert err.value.code == "busy"
    finally:
        thread.join(10)
        listener.close()
