"""A client that subscribes and then stops reading (a suspended TUI over SSH, Ctrl-Z) must
not keep the service from stopping: SIGTERM still flushes, seals and exits."""

from __future__ import annotations

import json
import socket
import time

from tests.service_run.conftest import RunningService


def test_sigterm_stops_the_service_while_a_subscriber_reads_nothing(
    service: RunningService,
) -> None:
    service.wait_notify("READY=1")
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(str(service.socket_path))
    stuck.sendall(json.dumps({"v": 2, "id": 1, "cmd": "subscribe", "args": {}}).encode() + b"\n")
    time.sleep(6)  # readings at 5 Hz from two nodes fill both socket buffers meanwhile
    try:
        assert service.stop() == 0  # exits (30 s at most), and cleanly
    finally:
        stuck.close()
    log = (service.root / "service.log").read_text(errors="replace")
    assert "Traceback" not in log
