"""`edgewarden forward` at run time: the service feed into the outbox, the outbox to the
broker, each on its own task with its own reconnect backoff.

Feed: subscribe resuming after the outbox's cursor; a gap the service cannot fill and a
service restart become `gap` messages; after a restart (or the first start) every alarm
point's current state is republished (retained) together with discovery. Every batch of
notifications is stored (fsync) before the next is read. Broker: connect (MQTT 5, or
3.1.1 when the broker has no 5), publish `online` retained, then send the outbox in
order with QoS 1 and delete what the broker acknowledged.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt

from controller.config import Config
from controller.control import schema
from controller.control.client import ControlError
from controller.control.schema import to_wire
from controller.forward import discovery
from controller.forward.backoff import Backoff
from controller.forward.broker import BrokerSettings, describe_failure, protocol_unsupported
from controller.forward.feed import Notification, ServiceFeed
from controller.forward.inbound import CommandHandler
from controller.forward.outbox import Outbox
from controller.forward.topics import Topics
from controller.forward.translate import Outgoing, Translator, mappings

log = logging.getLogger(__name__)

REPORT_EVERY_S = 2.0
PUBLISH_WINDOW = 32  # QoS 1 messages in flight (aiomqtt scans its pending calls per publish)


@dataclass
class ForwarderState:
    """What `doctor`, logs and the dashboard say about the forwarder."""

    connected: bool = False
    service_connected: bool = False
    last_error: str | None = None
    published: int = 0
    gaps: int = 0


class Forwarder:
    def __init__(self, cfg: Config, settings: BrokerSettings, socket: Path,
                 *, version: str, clock: Callable[[], float] = time.time) -> None:
        f = cfg.forward
        self.cfg = cfg
        self.settings = settings
        self.socket = socket
        self.version = version
        self.clock = clock
        self.topics = Topics(f.topic_prefix, cfg.device.name)
        self.outbox = Outbox(f.state_dir / "outbox.sqlite", f.outbox_max_messages)
        self.translator = Translator(self.topics, reading_min_interval_s=f.reading_min_interval_s,
                                     publish_snapshots=f.publish_snapshots)
        self.state = ForwarderState()
        self._wake = asyncio.Event()
        self._feed: ServiceFeed | None = None
        self._protocol = aiomqtt.ProtocolVersion.V5
        self._said: dict[str, str | None] = {}
        self._entities: set[str] = set()  # announced: "alarm:ID", "channel:K"
        self._checkpoint_sent: str | None = None  # the head of the last checkpoint queued
        self.commands = CommandHandler(self.topics, settings.client_id) \
            if f.inbound_commands else None

    async def run(self) -> None:
        try:
            await asyncio.gather(self._feed_loop(), self._broker_loop())
        finally:
            self.outbox.close()

    def _say(self, side: str, line: str | None, level: int = logging.ERROR) -> None:
        """Log a problem once, not once per retry; and once when it is over."""
        if self._said.get(side) == line:
            return
        self._said[side] = line
        if line is not None:
            log.log(level, "%s", line)

    # ------------------------------------------------------------------ service side
    async def _feed_loop(self) -> None:
        backoff = Backoff(self.cfg.forward.reconnect_min_s, self.cfg.forward.reconnect_max_s)
        while True:
            try:
                feed = await ServiceFeed.connect(self.socket)
            except ControlError as exc:
                self._say("service", f"service: {exc}")
                await asyncio.sleep(backoff.next_delay())
                continue
            reporter = asyncio.create_task(self._report(feed))
            try:
                self._feed = feed
                self.state.service_connected = True
                await self._follow(feed, backoff)
            except ControlError as exc:
                self._say("service", f"service: {exc}")
            finally:
                reporter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reporter
                self._feed = None
                self.state.service_connected = False
                await feed.close()
            await asyncio.sleep(backoff.next_delay())

    async def _report(self, feed: ServiceFeed) -> None:
        """Tell the service how the forwarder is (for status and the TUI's dashboard)."""
        while True:
            await asyncio.sleep(REPORT_EVERY_S)
            st = self.state
            ok, _ = await feed.command("forward.report", {
                "connected": st.connected, "outbox": len(self.outbox),
                "last_error": st.last_error or "", "published": st.published,
                "gaps": st.gaps, "broker": self.settings.address})
            if not ok:  # an older service without the command: stop asking
                return

    async def _follow(self, feed: ServiceFeed, backoff: Backoff) -> None:
        stream, seq = self.outbox.cursor()
        held = self.outbox.last_record()  # the newest record whose messages are stored
        resumed = await feed.resume(stream, seq)
        backoff.reset()
        self._say("service", None)
        log.info("service: subscribed (stream %s, after %d)", resumed.stream, seq)
        first: list[Outgoing] = []
        msg_id = f"{resumed.stream}:{resumed.seq}"
        if stream is not None and resumed.stream != stream:
            first.append(self.translator.gap(msg_id, stream, seq, None, "service restarted"))
            seq = 0
            held = 0  # a new stream publishes only records made after it started
        elif resumed.gap:
            first.append(self.translator.gap(msg_id, stream, seq, resumed.gap,
                                             "older than the service's backlog"))
        if stream is None or resumed.stream != stream:
            status = await feed.status()
            views = mappings(status.get("alarms"))
            first += self.translator.alarm_points(msg_id, views)
            listed = {str(v.get("id")) for v in views}
            first += self.translator.points_back_to_normal(
                msg_id, self.outbox.alarm_points() - listed)
            self.outbox.add_alarm_points(listed)
            first += self.translator.node_links(msg_id, mappings(status.get("nodes")))
            first += self._discovery(status)
            first += self._checkpoint(msg_id, status)
        self.state.gaps += sum(1 for m in first if m.topic == self.topics.gap)
        self.outbox.put(first, resumed.stream, seq, held)
        self._wake.set()
        while True:
            batch = await feed.next_batch()
            if batch is None:
                raise ControlError("the service closed the connection")
            out: list[Outgoing] = []
            now = self.clock()
            for n in batch:
                msg_id = f"{resumed.stream}:{n.seq}"
                if seq and n.seq > seq + 1:
                    out.append(self.translator.gap(msg_id, resumed.stream, seq,
                                                   n.seq - seq - 1,
                                                   "dropped by the service's queue"))
                    self.state.gaps += 1
                if n.seq <= seq:
                    continue
                seq = n.seq
                if n.notice is None:  # another release's shape: a gap, said once in the log
                    self._say("notice", f"service: {n.mismatch}")
                    out.append(self.translator.gap(msg_id, resumed.stream, seq - 1, 1,
                                                   str(n.mismatch)))
                    self.state.gaps += 1
                    continue
                record = getattr(n.notice, "seq", None)
                if isinstance(record, int) and record <= held:
                    continue  # its record's messages are stored already (same ids)
                held = record if isinstance(record, int) else held
                out += self.translator.event(n.notice, msg_id, now)
            points = {n.notice.alarm_id for n in batch
                      if isinstance(n.notice, schema.AlarmNotice)}
            if points:
                self.outbox.add_alarm_points(points)
            if self.cfg.forward.discovery and any(self._is_new_entity(n) for n in batch):
                out += self._discovery(await feed.status())
            for n in batch:  # seals are not notified: health carries the store's checkpoint
                if isinstance(n.notice, schema.HealthNotice):
                    out += self._checkpoint(f"{resumed.stream}:{n.seq}",
                                            to_wire(n.notice))
            self.outbox.put(out, resumed.stream, seq, held)
            if out:
                self._wake.set()

    def _discovery(self, status: dict[str, Any]) -> list[Outgoing]:
        if not self.cfg.forward.discovery:
            return []
        self._entities = {f"alarm:{a.get('id')}" for a in mappings(status.get("alarms"))} | {
            f"channel:{c.get('key')}" for c in mappings(status.get("channels"))}
        return discovery.messages(self.cfg, self.topics, status, self.version, self.outbox)

    def _checkpoint(self, msg_id: str, status: Mapping[str, Any]) -> list[Outgoing]:
        """The store's latest signed checkpoint, retained, once per new head.

        Verbatim, so a copy kept off the device is a `verify-bundle --checkpoint` file.
        """
        store = status.get("store")
        cp = store.get("checkpoint") if isinstance(store, dict) else None
        if not isinstance(cp, dict) or not isinstance(cp.get("text"), str) \
                or cp.get("head") == self._checkpoint_sent:
            return []
        self._checkpoint_sent = str(cp.get("head"))
        return [Outgoing(self.topics.checkpoint, cp["text"].encode(), True, "state", msg_id)]

    def _is_new_entity(self, n: Notification) -> bool:
        """An alarm point or a channel that discovery has not announced yet."""
        if isinstance(n.notice, schema.AlarmNotice):
            return f"alarm:{n.notice.alarm_id}" not in self._entities
        if isinstance(n.notice, schema.ReadingNotice):
            return f"channel:{n.notice.node}/{n.notice.channel}" not in self._entities
        return False

    # ------------------------------------------------------------------ broker side
    async def _broker_loop(self) -> None:
        backoff = Backoff(self.cfg.forward.reconnect_min_s, self.cfg.forward.reconnect_max_s)
        while True:
            try:
                async with self.settings.client(self.topics, self._protocol) as client:
                    await self._connected(client, backoff)
            except aiomqtt.MqttError as exc:
                if self._protocol == aiomqtt.ProtocolVersion.V5 and protocol_unsupported(exc):
                    log.info("broker %s has no MQTT 5; using 3.1.1", self.settings.address)
                    self._protocol = aiomqtt.ProtocolVersion.V311
                    continue
                line = describe_failure(self.settings, exc)
                self.state.last_error = line
                self._say("broker", line)
            self.state.connected = False
            await asyncio.sleep(backoff.next_delay())

    async def _connected(self, client: aiomqtt.Client, backoff: Backoff) -> None:
        await client.publish(self.topics.availability, b"online", qos=1, retain=True)
        backoff.reset()
        self.state.connected, self.state.last_error = True, None
        self._say("broker", None)
        log.info("broker %s: connected", self.settings.address)
        inbound: asyncio.Task[None] | None = None
        if self.commands is not None:
            await client.subscribe(self.topics.command, qos=1)
            inbound = asyncio.create_task(self._inbound(client))
        try:
            await self._send(client)
        finally:
            if inbound is not None:
                inbound.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await inbound

    async def _send(self, client: aiomqtt.Client) -> None:
        """Keep up to PUBLISH_WINDOW messages in flight, in outbox order; delete each
        acknowledged prefix. A failed publish ends the connection: everything not yet
        deleted goes again after the reconnect (same ids)."""
        inflight: collections.deque[tuple[int, asyncio.Task[None]]] = collections.deque()
        last_sent = 0
        try:
            while True:
                room = PUBLISH_WINDOW - len(inflight)
                if room > 0:
                    self._wake.clear()
                    for s in self.outbox.peek(room, after=last_sent):
                        inflight.append((s.n, asyncio.ensure_future(client.publish(
                            s.message.topic, s.message.payload, qos=1,
                            retain=s.message.retain))))
                        last_sent = s.n
                if not inflight:
                    await self._wake.wait()
                    continue
                waiters: set[asyncio.Future[Any]] = {inflight[0][1]}
                if len(inflight) < PUBLISH_WINDOW:
                    waiters.add(asyncio.ensure_future(self._wake.wait()))
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for w in waiters - {inflight[0][1]}:
                    w.cancel()
                acked = None
                while inflight and inflight[0][1].done():
                    n, task = inflight.popleft()
                    task.result()  # a failed publish raises here: reconnect
                    acked = n
                    self.state.published += 1
                if acked is not None:
                    self.outbox.delivered(acked)
        finally:
            for _n, task in inflight:
                task.cancel()

    async def _inbound(self, client: aiomqtt.Client) -> None:
        assert self.commands is not None
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            reply = await self.commands.handle(payload, self._run_command)
            await client.publish(self.topics.command_result, reply, qos=1)

    async def _run_command(self, cmd: str, args: dict[str, Any]) -> tuple[bool, str]:
        feed = self._feed
        if feed is None:
            return False, "the service is not connected"
        if cmd == "forward.report":  # a refusal to audit: with the current state
            st = self.state
            args = {"connected": st.connected, "outbox": len(self.outbox), **args}
        return await feed.command(cmd, args)
