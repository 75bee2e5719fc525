"""The pieces of a forwarder test: a real service with simulated nodes, a real broker,
the `edgewarden forward` process, and a durable subscriber that decodes what arrives
with the forwarder's own payload types."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from controller.forward import payloads
from controller.simulation.fleet import SimulatedFleet, start_paired_nodes
from tests.prepared_store import initialised_copy
from tests.service_run.conftest import PASSPHRASE, RunningService, write_config

CLI = [sys.executable, "-m", "controller"]


def wait_until(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}")


@contextlib.contextmanager
def start_service(root: Path, forward: str) -> Iterator[RunningService]:
    """`edgewarden run` on two simulated nodes; node-1's spike raises a temperature alarm."""
    init = initialised_copy(root / "data", PASSPHRASE)
    fleet: SimulatedFleet = start_paired_nodes(2, root / "nodes", rate_hz=5.0,
                                               faults={0: ["spike@4:6"]})
    cfg = write_config(root, fleet, forward)
    notify_path = root / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    env = dict(os.environ, NOTIFY_SOCKET=str(notify_path))
    env.pop("WATCHDOG_USEC", None)
    proc = subprocess.Popen([*CLI, "run", "--config", str(cfg)], env=env,
                            stderr=open(root / "service.log", "wb"))  # noqa: SIM115
    running = RunningService(root, cfg, proc, notify, fleet, init.verification_key)
    try:
        running.wait_notify("READY=1", timeout=60)
        yield running
    finally:
        proc = running.proc  # a test may have restarted the service
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        fleet.stop()
        notify.close()


def forward_section(url: str, state_dir: Path, extra: str = "") -> str:
    return (f'[forward]\nurl = "{url}"\nstate_dir = "{state_dir}"\n'
            f"reconnect_min_s = 0.2\nreconnect_max_s = 1.0\n"
            f"reading_min_interval_s = 1.0\n{extra}\n")


@dataclass
class ForwardProcess:
    config: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ForwardProcess:
        self.proc = subprocess.Popen([*CLI, "forward", "--config", str(self.config)],
                                     stderr=open(self.log, "ab"))  # noqa: SIM115
        return self

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines() if self.log.exists() else []

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool


@dataclass
class Subscriber:
    """A durable MQTT 3.1.1 session (clean_session false): what is published while it is
    away waits for it in the broker."""

    port: int
    client_id: str = "test-subscriber"
    topic: str = "#"
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    tls_ca: Path | None = None

    def __post_init__(self) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                  clean_session=False, protocol=mqtt.MQTTv311)
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.disconnected.set()
        self.connected = threading.Event()
        self.disconnected = threading.Event()

    def _on_connect(self, client: mqtt.Client, *args: Any) -> None:
        client.subscribe(self.topic, qos=1)
        self.connected.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))

    def start(self) -> Subscriber:
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        assert self.connected.wait(10)
        time.sleep(0.2)  # the SUBACK
        return self

    def stop(self) -> None:
        """Disconnect and close the socket (a test process must not keep TCP sockets:
        other tests check the process has none)."""
        self.client.disconnect()
        self.disconnected.wait(5)
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    def on(self, suffix: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if m.topic.endswith(suffix)]

    def decoded(self, suffix: str) -> list[payloads.Payload]:
        return [payloads.decode(m.payload) for m in self.on(suffix) if m.payload]

    def transitions(self) -> list[payloads.AlarmTransition]:
        out = []
        for p in self.decoded("/alarm/events"):
            assert isinstance(p, payloads.AlarmTransition)
            out.append(p)
        return out


def seq_of(msg_id: str) -> tuple[str, int]:
    stream, _, seq = msg_id.rpartition(":")
    return stream, int(seq)
