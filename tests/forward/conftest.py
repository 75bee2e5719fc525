"""Every forwarder test leaves the test process without TCP sockets (other tests of the
control server check that the process has none)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import psutil
import pytest


@pytest.fixture(autouse=True)
def no_tcp_left() -> Iterator[None]:
    yield
    gc.collect()  # paho's clients close their loopback socket pair when collected
    left = [c for c in psutil.Process().net_connections(kind="inet")
            if c.status != psutil.CONN_LISTEN]
    assert left == [], f"TCP sockets left open: {left}"
