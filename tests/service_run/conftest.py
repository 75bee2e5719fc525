"""A real `edgewarden run` process with simulated, paired nodes, in a temp data dir."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from controller.simulation.fleet import SimulatedFleet, start_paired_nodes
from tests.prepared_store import initialised_copy

PASSPHRASE = "service test passphrase 42"


def write_config(root: Path, fleet: SimulatedFleet, extra: str = "") -> Path:
    nodes = "\n".join(
        f'[[serial.nodes]]\nname = "{n.name}"\nport = "{n.port}"\n' for n in fleet.nodes
    )
    cfg = root / "config.toml"
    cfg.write_text(
        f"""
[device]
name = "test-site"
data_dir = "{root / 'data'}"
runtime_dir = "{root / 'run'}"

[serial]
keys_dir = "{root / 'nodes' / 'keys'}"

[store]
commit_interval_ms = 50

[health]
interval_s = 1.0
textfile_path = "{root / 'metrics.prom'}"

[anomaly.channels."*"]
missing_s = 5.0

[anomaly.channels."node-1/temperature"]
high_warning = 35.0
high_critical = 60.0
deadband = 2.0

{nodes}
{extra}
"""
    )
    return cfg


@dataclass
class RunningService:
    root: Path
    config: Path
    proc: subprocess.Popen[bytes]
    notify: socket.socket
    fleet: SimulatedFleet
    verification_key: str
    messages: list[str] = field(default_factory=list)

    @property
    def socket_path(self) -> Path:
        return self.root / "run" / "control.sock"

    def wait_notify(self, key: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        for m in self.messages:
            if key in m:
                return m
        while time.monotonic() < deadline:
            self.notify.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.notify.recv(4096).decode()
            except TimeoutError:
                break
            self.messages.append(data)
            if key in data:
                return data
        raise AssertionError(f"no {key} from the service; got {self.messages}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=30)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[RunningService]:
    init = initialised_copy(tmp_path / "data", PASSPHRASE)
    fleet = start_paired_nodes(2, tmp_path / "nodes", rate_hz=5.0,
                               faults={0: ["spike@4:6"]})
    cfg = write_config(tmp_path, fleet)
    notify_path = tmp_path / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    env = dict(os.environ, NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC="400000")
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller", "run", "--config", str(cfg)],
        env=env, stderr=open(tmp_path / "service.log", "wb"),  # noqa: SIM115
    )
    running = RunningService(tmp_path, cfg, proc, notify, fleet, init.verification_key)
    try:
        yield running
    finally:
        if running.proc.poll() is None:  # a test may have restarted the service
            running.proc.kill()
            running.proc.wait()
        fleet.stop()
        notify.close()


async def close_connection(app: Any) -> None:
    """End a Pilot-run TUI's connection to the service: the app leaves it to the process's
    exit, and a test process lives on (a connection nobody reads holds up the service's
    stop)."""
    client = getattr(app, "_client", None)
    if client is not None:
        await client.close()
