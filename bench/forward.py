"""The MQTT forwarder: alarm raise -> broker delivery latency, sustained events/s, RSS.

A real ControlServer (in this process) stands in for the service and a real mosquitto
(on a free 127.0.0.1 port) for the broker; `edgewarden forward` runs as its own process
between them, with every message going through its fsynced outbox. A subscriber in this
process timestamps each arrival.

- latency: an alarm transition published on the control socket every 20 ms while
  readings flow (100/s over 20 channels, none rate-limited away), until it arrives on
  `alarm/events`. Baseline, same run, interleaved: a bare aiomqtt QoS 1 publish of the
  same payload from this process to the same broker and subscriber.
- throughput: a burst of detection events offered as fast as the socket takes them;
  events/s = events / (last arrival - first offer).
- RSS of the forwarder process after both runs.
Goals: p99 <= bare p99 + 50 ms, >= 2,000 events/s, RSS <= 40 MB.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt
import psutil

from controller.config import ControlConfig
from controller.control import schema
from controller.control.commands import Call, CommandError, command_table
from controller.control.roles import RoleResolver
from controller.control.server import ControlServer

LATENCY_SAMPLES = int(os.environ.get("BENCH_SAMPLES", "500"))
BURST = int(os.environ.get("BENCH_BURST", "20000"))


class Handlers:
    """Just enough of the service for the forwarder: an empty status."""

    async def status(self, call: Call, args: dict[str, Any]) -> Any:
        return {"alarms": [], "channels": [], "nodes": []}

    async def _no(self, call: Call, args: dict[str, Any]) -> Any:
        raise CommandError("not in the bench")

    alarms_ack = alarms_shelve = events_list = history_fetch = config_get = _no
    config_validate = config_apply = node_sample_rate = pair = export = _no
    vehicles_list = vehicles_add = vehicles_remove = vehicles_import = _no

    async def forward_report(self, call: Call, args: dict[str, Any]) -> Any:
        return {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_mosquitto(root: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    conf = root / "mosquitto.conf"
    conf.write_text(f"user {pwd.getpwuid(os.getuid()).pw_name}\nlistener {port} 127.0.0.1\n"
                    "allow_anonymous true\npersistence false\nmax_queued_messages 0\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("mosquitto did not start")


class Arrivals:
    def __init__(self, port: int) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {"forwarder": [], "bare": []}
        self.detections = 0
        self.last_detection = 0.0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-sub")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([("bench/site/alarm/events", 1), ("bare/alarm", 1),
                               ("bench/site/detection/#", 1)])
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        now = time.time()
        with self.lock:
            if "/detection/" in msg.topic:
                self.detections += 1
                self.last_detection = now
                return
            body = json.loads(msg.payload)
            sent = float(body["comment"])
            self.latency["bare" if msg.topic == "bare/alarm" else "forwarder"].append(
                (now - sent) * 1000)


def alarm(i: int, sent: float) -> dict[str, Any]:
    """A transition as the service publishes it (record i + 1), the send time as comment."""
    return schema.to_wire(schema.AlarmNotice(  # type: ignore[no-any-return]
        seq=i + 1, t=sent, alarm_id=f"n{i % 5}/temp:limits", channel=f"n{i % 5}/temp",
        rule="limits", event="raise" if i % 2 == 0 else "return", from_state="normal",
        to_state="active_unack", severity="warning", priority="high", value=40.0 + i % 7,
        score=1.0, user="", comment=repr(sent), chatter_per_hour=1, detail=None,
        message=None))


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="ewb-", dir="/tmp"))
    broker, port = start_mosquitto(root)
    sock = root / "run" / "control.sock"
    server = ControlServer(sock, command_table(Handlers()),  # type: ignore[arg-type]
                           RoleResolver(ControlConfig(socket_group="")), lambda e: None,
                           queue_size=BURST + 1000, backlog_size=4096)
    await server.start()
    cfg = root / "config.toml"
    cfg.write_text(f'[device]\nname = "site"\ndata_dir = "{root}/data"\nruntime_dir = '
                   f'"{root}/run"\n\n[forward]\nurl = "mqtt://127.0.0.1:{port}"\n'
                   f'state_dir = "{root}/fwd"\ntopic_prefix = "bench"\ndiscovery = false\n'
                   f"reading_min_interval_s = 0.0\n")
    profile = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] \
        if os.environ.get("BENCH_PROFILE") else []
    fwd = subprocess.Popen([sys.executable, *profile, "-m", "controller", "forward", "--config",
                            str(cfg)], stderr=open(root / "fwd.log", "wb"))  # noqa: SIM115
    arrivals = Arrivals(port)
    try:
        while server.stats().subscribers < 1:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # the forwarder connects to the broker
        async with aiomqtt.Client("127.0.0.1", port, identifier="bench-bare") as bare:
            readings = asyncio.create_task(flow_readings(server))
            for i in range(LATENCY_SAMPLES):
                sent = time.time()
                server.publish("alarm", alarm(i, sent))
                sent = time.time()
                await bare.publish("bare/alarm", json.dumps(alarm(i, sent)), qos=1)
                await asyncio.sleep(0.02)
            await asyncio.sleep(1.0)
            readings.cancel()
        lat = arrivals.latency
        print(f"latency, alarm raise -> subscriber ({len(lat['forwarder'])}/"
              f"{LATENCY_SAMPLES} forwarded, {len(lat['bare'])} bare; readings 100/s):")
        for name in ("forwarder", "bare"):
            v = lat[name]
            print(f"  {name:9s}  p50 {statistics.median(v):6.2f} ms   p99 {pct(v, 0.99):6.2f} ms"
                  f"   max {max(v):6.2f} ms")
        over = pct(lat["forwarder"], 0.99) - pct(lat["bare"], 0.99)
        ratio = statistics.median(lat["forwarder"]) / statistics.median(lat["bare"])
        print(f"  p99 over bare: {over:.2f} ms (goal <= 50 ms); p50 ratio {ratio:.1f}x")

        start = time.time()
        for i in range(BURST):
            server.publish("detection", schema.to_wire(schema.DetectionNotice(
                seq=LATENCY_SAMPLES + i + 1, camera=f"cam{i % 4}", zone="z", label="person",
                track_id=i, score=0.9, time=start, start=start, continues=False,
                phase="start", event_id=f"cam{i % 4}/z/{start:.3f}/{i}")))
            if i % 500 == 499:
                await asyncio.sleep(0)
        deadline = time.time() + 120
        while arrivals.detections < BURST and time.time() < deadline:
            await asyncio.sleep(0.1)
        elapsed = arrivals.last_detection - start
        print(f"throughput: {arrivals.detections}/{BURST} detection events in {elapsed:.2f} s "
              f"= {arrivals.detections / elapsed:,.0f} events/s (goal >= 2,000)")
        rss = psutil.Process(fwd.pid).memory_info().rss / 2**20
        print(f"forwarder RSS: {rss:.1f} MB (goal <= 40 MB)")
    finally:
        fwd.terminate()
        fwd.wait(20)
        arrivals.client.loop_stop()
        await server.close()
        broker.terminate()
        broker.wait(10)
        shutil.rmtree(root, ignore_errors=True)


async def flow_readings(server: ControlServer) -> None:
    i = 0
    while True:
        for _ in range(10):
            now = time.time()
            server.publish("reading", schema.to_wire(schema.ReadingNotice(
                node_uid=f"u{i % 4}", node=f"n{i % 4}", channel=f"c{i % 5}", value=float(i),
                unit="C", node_time_ms=int(now * 1000), received_wall=now,
                received_mono=time.monotonic(), counter=i)))
            i += 1
        await asyncio.sleep(0.1)


if __name__ == "__main__":
    asyncio.run(main())
