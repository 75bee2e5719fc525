"""A broker that speaks only MQTT 3.1.1: the forwarder falls back from 5 and still delivers.

Debian's mosquitto speaks both, so a relay in front of it answers every MQTT 5 CONNECT the
way a 3.1.1-only broker does (CONNACK "unacceptable protocol version", then close) and
passes 3.1.1 connections through.
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.forward import payloads

from .harness import ForwardProcess, Subscriber, forward_section, start_service, wait_until
from .mosquitto import Mosquitto, need_mosquitto

V311_LEVEL = 4
REFUSED_PROTOCOL = bytes([0x20, 0x02, 0x00, 0x01])  # CONNACK, rc 1 (3.1.1's wording)


def _protocol_level(first: bytes) -> int | None:
    """The protocol level byte of a CONNECT packet's variable header, if it is one."""
    if not first or first[0] >> 4 != 1:
        return None
    i = 1
    while i < len(first) and first[i] & 0x80:  # remaining length, variable-length int
        i += 1
    i += 1
    name_len = int.from_bytes(first[i:i + 2], "big")
    level_at = i + 2 + name_len
    return first[level_at] if level_at < len(first) else None


class V311OnlyRelay:
    """Listens on loopback; refuses MQTT 5, pipes 3.1.1 to the real broker."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.refused_v5 = 0
        self.passed_v311 = 0
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            first = conn.recv(4096)
            if _protocol_level(first) != V311_LEVEL:
                with self._lock:
                    self.refused_v5 += 1
                with contextlib.suppress(OSError):
                    conn.sendall(REFUSED_PROTOCOL)
                return
            with self._lock:
                self.passed_v311 += 1
            with socket.create_connection(("127.0.0.1", self.upstream_port)) as up:
                with self._lock:
                    self._open += [conn, up]
                up.sendall(first)
                back = threading.Thread(target=self._pipe, args=(up, conn), daemon=True)
                back.start()
                self._pipe(conn, up)
                back.join(5)

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        with self._lock:
            for s in self._open:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def short_root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ewf-", dir="/tmp") as d:  # AF_UNIX paths
        yield Path(d)


def test_forwarder_falls_back_to_311_and_delivers(short_root: Path) -> None:
    need_mosquitto()
    sub: Subscriber | None = None
    with Mosquitto(short_root / "broker") as broker:
        relay = V311OnlyRelay(broker.port)
        fwd = ForwardProcess(short_root / "svc" / "config.toml", short_root / "fwd.log")
        try:
            sub = Subscriber(broker.port).start()
            url = f"mqtt://127.0.0.1:{relay.port}"
            with start_service(short_root / "svc", forward_section(url, short_root / "fwd")):
                fwd.start()
                wait_until(lambda: [m for m in sub.on("/availability")
                                    if m.payload == b"online"],
                           60, "the forwarder online over 3.1.1")
                raised = wait_until(
                    lambda: [t for t in sub.transitions() if t.event == "raise"], 60,
                    "an alarm raise through the 3.1.1-only broker")
                assert isinstance(raised[0], payloads.AlarmTransition)
            assert fwd.stop() == 0
        finally:
            fwd.stop()
            if sub is not None:
                sub.stop()
            relay.close()
    assert relay.refused_v5 >= 1, "the forwarder never tried MQTT 5 first"
    assert relay.passed_v311 >= 1
    assert any("3.1.1" in line for line in fwd.lines()), fwd.lines()
