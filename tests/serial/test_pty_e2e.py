"""End to end through real ptys: simulate-node (subprocess) -> monitor / link manager."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.sensors.keystore import KeyStore
from controller.simulation.node import PtyNode, SimNodeOptions
from firmware_bridge.link import LinkManager, PortSpec
from firmware_bridge.reading import Reading
from firmware_bridge.signing import SecretKey

UID = "E66138935F2A1B01"
CLI = [sys.executable, "-m", "controller"]


def key_file(tmp: Path, uid: str = UID) -> Path:
    p = tmp / f"{uid}.key"
    fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, os.urandom(32))
    os.close(fd)
    return p


class SimNode:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([*CLI, "simulate-node", "--pty", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.path = self.proc.stdout.readline().strip()
        assert self.path, self.proc.stderr.read() if self.proc.stderr else ""

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=10)
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()
        return rc


@pytest.fixture
def sim() -> Iterator[list[SimNode]]:
    started: list[SimNode] = []
    yield started
    for s in started:
        if s.proc.poll() is None:
            s.stop()


def monitor(port: str, seconds: float, *extra: str) -> tuple[list[dict[str, object]], str]:
    out = subprocess.run([*CLI, "monitor", port, "--json", "--seconds", str(seconds), *extra],
                         capture_output=True, text=True, timeout=seconds + 30)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()], out.stderr


def kinds(events: list[dict[str, object]]) -> tuple[list[dict[str, object]], Counter[object]]:
    readings = [e for e in events if e["kind"] == "reading"]
    reasons = Counter(e["reason"] for e in events if e["kind"] == "rejected")
    return readings, reasons


def test_readings_arrive_and_sigterm_exits_cleanly(tmp_path: Path, sim: list[SimNode]) -> None:
    k = key_file(tmp_path)
    node = SimNode("--uid", UID, "--key-file", str(k), "--rate", "10")
    sim.append(node)
    assert node.path.startswith("/dev/")
    events, stderr = monitor(node.path, 2.5, "--key-file", str(k))
    readings, reasons = kinds(events)
    assert len(readings) >= 4 * 5, stderr
    assert {r["channel"] for r in readings} == {"temperature", "humidity", "vibration", "door"}
    assert all(r["node_uid"] == UID for r in readings)
    assert "online" in stderr
    assert not reasons
    assert node.stop() == 0


def test_garbage_forgery_and_replay_rejected_readings_continue(
        tmp_path: Path, sim: list[SimNode]) -> None:
    k = key_file(tmp_path)
    node = SimNode("--uid", UID, "--key-file", str(k), "--rate", "20",
                   "--fault", "garbage", "--fault", "badsig@0:60", "--fault", "replay@0:60")
    sim.append(node)
    events, _ = monitor(node.path, 3.0, "--key-file", str(k))
    readings, reasons = kinds(events)
    # every frame is forged here: nothing gets through, each is counted by reason
    assert readings == []
    assert reasons["bad_signature"] >= 10, reasons
    assert sum(reasons[r] for r in ("bad_crc", "bad_cobs", "too_short", "bad_version",
                                    "bad_length", "too_long")) >= 10, reasons


def test_replay_window_and_garbage_resync(tmp_path: Path, sim: list[SimNode]) -> None:
    k = key_file(tmp_path)
    node = SimNode("--uid", UID, "--key-file", str(k), "--rate", "20",
                   "--fault", "garbage", "--fault", "replay")
    sim.append(node)
    events, _ = monitor(node.path, 3.0, "--key-file", str(k))
    readings, reasons = kinds(events)
    assert reasons["replayed"] >= 10, reasons
    # garbage before every frame costs no frame: the leading delimiter resyncs
    counters = sorted({int(str(r["counter"])) for r in readings})
    assert len(counters) >= 20
    steps = Counter(b - a for a, b in itertools.pairwise(counters))
    assert steps[1] + steps[2] >= 0.9 * sum(steps.values())  # (heartbeats take odd counters)


def test_unpaired_node_nothing_reaches_readings(tmp_path: Path, sim: list[SimNode]) -> None:
    (tmp_path / "node").mkdir()
    node_key = key_file(tmp_path / "node")
    other = key_file(tmp_path, "00112233445566AA")  # the monitor only knows another node
    node = SimNode("--uid", UID, "--key-file", str(node_key), "--rate", "10")
    sim.append(node)
    events, stderr = monitor(node.path, 2.5, "--key-file", str(other))
    readings, reasons = kinds(events)
    assert readings == []
    assert reasons["unpaired"] >= 1 and set(reasons) == {"unpaired"}
    assert f"({UID}): unpaired" in stderr


def test_flood_is_rate_limited(tmp_path: Path, sim: list[SimNode]) -> None:
    k = key_file(tmp_path)
    node = SimNode("--uid", UID, "--key-file", str(k), "--rate", "400")
    sim.append(node)
    events, _ = monitor(node.path, 3.0, "--key-file", str(k), "--max-rate", "20")
    readings, reasons = kinds(events)
    assert reasons["rate_limited"] >= 100, reasons
    assert len(readings) <= 4 * (20 * 3.0 + 20 + 5)  # budget plus the burst


def test_unplug_replug_recovers(tmp_path: Path, sim: list[SimNode]) -> None:
    k = key_file(tmp_path)
    link = tmp_path / "node-tty"
    node = SimNode("--uid", UID, "--key-file", str(k), "--rate", "10", "--link", str(link))
    sim.append(node)
    assert node.path == str(link)
    mon = subprocess.Popen([*CLI, "monitor", node.path, "--json", "--key-file", str(k)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert mon.stdout is not None and mon.stderr is not None

    def wait_readings(n: int) -> None:
        got = 0
        deadline = time.monotonic() + 20
        while got < n and time.monotonic() < deadline:
            line = mon.stdout.readline()  # type: ignore[union-attr]
            got += '"kind": "reading"' in line
        assert got >= n

    try:
        wait_readings(8)
        node.proc.send_signal(signal.SIGUSR1)  # pull the cable: the pty goes away
        time.sleep(1.0)
        assert not link.exists()
        node.proc.send_signal(signal.SIGUSR1)  # put it back: a new pty behind the link
        wait_readings(4 * 5)
    finally:
        mon.send_signal(signal.SIGTERM)
        _, stderr = mon.communicate(timeout=20)
    assert mon.returncode == 0
    assert "opened 2x" in stderr or "opened 3x" in stderr, stderr


def test_link_manager_in_process_unplug_and_stats(tmp_path: Path) -> None:
    raw = os.urandom(32)
    (tmp_path / "node.key").write_bytes(raw)
    node = PtyNode(SimNodeOptions(uid=UID, rate_hz=20, key_file=tmp_path / "node.key",
                                  link=tmp_path / "tty")).start()

    replugged: list[float] = []

    async def scenario() -> tuple[list[Reading], LinkManager]:
        link = LinkManager([PortSpec(node.path, "bench")],
                           lambda uid: (SecretKey(raw), "bench") if uid == UID else None,
                           queue_size=10_000, backoff_max_s=0.5)
        task = asyncio.create_task(link.run())
        await asyncio.sleep(1.0)
        node.unplug()
        await asyncio.sleep(1.0)
        replugged.append(time.monotonic())
        node.replug()
        await asyncio.sleep(2.0)
        link.stop()
        await task
        out = []
        while not link.readings.empty():
            out.append(link.readings.get_nowait())
        return out, link

    try:
        readings, link = asyncio.run(scenario())
    finally:
        node.stop()
    late = [r for r in readings if r.received_mono > replugged[0]]
    assert len(late) >= 4 * 10  # 20 Hz for 2 s, less the reopen backoff
    (st,) = link.node_stats()
    assert st.name == "bench" and st.readings_ok == len(readings)
    assert link.port_stats()[0].reopens >= 1
    assert all(r.node_name == "bench" and r.unit for r in readings)


def test_full_queue_drops_are_counted(tmp_path: Path) -> None:
    raw = os.urandom(32)
    (tmp_path / "node.key").write_bytes(raw)
    node = PtyNode(SimNodeOptions(uid=UID, rate_hz=50, key_file=tmp_path / "node.key")).start()

    async def scenario() -> LinkManager:
        link = LinkManager([PortSpec(node.path)], lambda uid: (SecretKey(raw), "q"),
                           queue_size=10)
        task = asyncio.create_task(link.run())
        await asyncio.sleep(1.5)
        link.stop()
        await task
        return link

    try:
        link = asyncio.run(scenario())
    finally:
        node.stop()
    (st,) = link.node_stats()
    assert link.readings.qsize() == 10
    assert link.dropped > 0 and st.rejected["queue_full"] == link.dropped


def test_pair_cli_and_refusal_to_repair(tmp_path: Path, sim: list[SimNode]) -> None:
    node_key = tmp_path / "node.key"
    keys = tmp_path / "keys"
    node = SimNode("--uid", UID, "--key-file", str(node_key), "--pairing")
    sim.append(node)
    out = subprocess.run([*CLI, "pair", node.path, "--keys-dir", str(keys), "--name", "gate",
                          "--timeout", "10"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert f"paired node {UID} as 'gate'" in out.stdout
    store = KeyStore(keys)
    key1 = store.load_key(UID)
    assert key1 is not None and key1.reveal() == node_key.read_bytes()
    assert os.stat(keys).st_mode & 0o777 == 0o700
    assert os.stat(keys / f"{UID}.key").st_mode & 0o777 == 0o600
    assert os.stat(node_key).st_mode & 0o777 == 0o600
    node.stop()
    # the node is put in pairing mode again: no silent re-pair
    node2 = SimNode("--uid", UID, "--key-file", str(node_key), "--pairing")
    sim.append(node2)
    out = subprocess.run([*CLI, "pair", node2.path, "--keys-dir", str(keys), "--name", "gate",
                          "--timeout", "10"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert "already paired as 'gate'" in out.stderr and "--replace" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert store.load_key(UID) == key1
    out = subprocess.run([*CLI, "pair", node2.path, "--keys-dir", str(keys), "--name", "gate",
                          "--replace", "--timeout", "10"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert "replaced key" in out.stderr
    assert store.load_key(UID) != key1
    assert store.load_key(UID).reveal() == node_key.read_bytes()  # type: ignore[union-attr]


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    out = subprocess.run([*CLI, "pair", str(tmp_path / "nope"), "--keys-dir",
                          str(tmp_path / "k"), "--timeout", "1"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "nope" in out.stderr
    out = subprocess.run([*CLI, "simulate-node", "--pty", "--fault", "meteor"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "unknown fault 'meteor'" in out.stderr
    out = subprocess.run([*CLI, "monitor", "/dev/null", "--key-file", str(tmp_path / "x")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "no such key file" in out.stderr
