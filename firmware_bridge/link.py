"""Link manager: serial ports -> authenticated `Reading`s, on an asyncio loop.

I/O model: one asyncio loop; each port's fd is watched with `loop.add_reader` (no thread
per port). A read error or EOF (USB unplug: the pty closes) closes the port and reopens
it by its stable name with exponential backoff (0.1 s doubling up to `backoff_max_s`).
Each decoded frame goes to the node's session (firmware_bridge.session) first; only a
frame that verified and was fresh is charged to that node's token bucket, so frames forged
under a node's uid cannot spend its budget (verification costs about 1/40 of a frame's
time on the wire, see bench/serial_ingest.py). Forged frames, counter gaps and lag are
tracked per node (firmware_bridge.integrity). Uids without a key are kept per port in a
bounded table that never evicts a paired node. Accepted readings go to a bounded
asyncio.Queue; what does not fit is dropped and counted (QUEUE_FULL), never silently.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import serial

from firmware_bridge.frame import Frame, FrameDecoder, FrameError
from firmware_bridge.integrity import IntegrityLimits, LinkIntegrity
from firmware_bridge.messages import ChannelSpec, Message, ReadingMsg, Status, TimeSync
from firmware_bridge.ratelimit import TokenBucket
from firmware_bridge.reading import Reading
from firmware_bridge.reasons import RejectReason
from firmware_bridge.session import NodeSession, SessionResult, SessionState
from firmware_bridge.signing import SecretKey

log = logging.getLogger(__name__)

MAX_UNPAIRED_PER_PORT = 16  # uids without a key listed per port; the oldest is forgotten
UNPAIRED_RECHECK_S = 5.0  # an unpaired uid's key is looked up again this often (pairing)
HANDSHAKE_RATE = 5.0  # authentic HELLOs per second and node (replayed HELLOs stop here)
TIME_SYNC_INTERVAL_S = 300.0  # node clocks drift (~30 ppm): resynced before lag shows it
BACKOFF_START_S = 0.1
ONLINE_STATES = frozenset({"online", "under_attack"})
# refusals that mean someone other than the node sent the frame under its uid
FORGED_REASONS = frozenset({RejectReason.BAD_SIGNATURE, RejectReason.REPLAYED,
                            RejectReason.OUT_OF_WINDOW, RejectReason.UNSIGNED,
                            RejectReason.WRONG_DIRECTION})

# uid -> (key, name) or None when the controller holds no key for it
KeyLookup = Callable[[str], "tuple[SecretKey, str] | None"]


@dataclass(frozen=True)
class PortSpec:
    path: str  # stable name, e.g. /dev/edgewarden/node-E661...
    name: str = ""  # default node name for nodes on this port without a registry name
    baudrate: int = 921_600
    max_frames_per_second: float = 200.0


@dataclass
class NodeStats:
    """Per-node statistics, as `status`, the TUI and `monitor` show them."""

    uid: str
    name: str
    port: str
    state: str = "offline"  # online | under_attack (online, forged frames) | offline | unpaired
    frames_ok: int = 0
    readings_ok: int = 0
    rejected: collections.Counter[str] = field(default_factory=collections.Counter)
    last_seen_wall: float | None = None
    last_seen_mono: float | None = None
    firmware_version: str = ""
    lost_frames: int = 0  # since start: counter gaps and what STATUS counts showed missing
    lost_frames_window: int = 0  # in the last IntegrityLimits.lost_frames_window_s
    lag_ms: float | None = None  # smallest arrival - node time in the lag window
    forged_frames_window: int = 0
    link_problems: list[str] = field(default_factory=list)  # why the link is suspect


@dataclass
class PortStats:
    path: str
    is_open: bool = False
    opens: int = 0  # successful opens, the first included
    reopens: int = 0  # opens after the port had gone away
    bytes_in: int = 0
    frame_errors: collections.Counter[str] = field(default_factory=collections.Counter)
    last_error: str = ""
    # open | absent (no such device) | failing (it exists but cannot be opened or read)
    # | closed (not tried yet, or stopped)
    state: str = "closed"


class LinkObserver:
    """Hooks for consumers that want more than readings (monitor, audit); default no-op."""

    def on_reject(self, port: str, uid: str | None, reason: RejectReason) -> None:
        """A frame or reading was refused."""

    def on_message(self, port: str, uid: str, message: Message) -> None:
        """An authenticated non-reading message (HELLO, LOG, STATUS, ...)."""


@dataclass
class _Node:
    session: NodeSession
    stats: NodeStats
    bucket: TokenBucket  # authentic session frames
    hs_bucket: TokenBucket  # authentic HELLOs
    integrity: LinkIntegrity
    port: _Port
    key: SecretKey | None = None
    looked_up_mono: float = 0.0


class _Port:
    def __init__(self, spec: PortSpec) -> None:
        self.spec = spec
        self.fd: int | None = None
        self.serial: serial.Serial | None = None
        self.decoder = FrameDecoder()
        self.stats = PortStats(spec.path)
        self.held = False  # lent out (to pairing): not reopened until given back
        # uids the controller holds no key for, least recently heard first
        self.unpaired: collections.OrderedDict[bytes, _Node] = collections.OrderedDict()


class LinkManager:
    """Reads every configured port, authenticates frames and queues `Reading`s."""

    def __init__(
        self,
        ports: list[PortSpec],
        keys: KeyLookup,
        queue_size: int = 4096,
        backoff_max_s: float = 10.0,
        heartbeat_timeout_s: float = 10.0,
        observer: LinkObserver | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
        limits: IntegrityLimits | None = None,
        time_sync_interval_s: float = TIME_SYNC_INTERVAL_S,
    ) -> None:
        self.readings: asyncio.Queue[Reading] = asyncio.Queue(maxsize=queue_size)
        self.dropped = 0
        self._ports = [_Port(p) for p in ports]
        self._keys = keys
        self._backoff_max = backoff_max_s
        self._heartbeat_timeout = heartbeat_timeout_s
        self._observer = observer or LinkObserver()
        self._random = random_bytes
        self._limits = limits or IntegrityLimits()
        self._time_sync_interval = time_sync_interval_s
        self._nodes: dict[bytes, _Node] = {}  # paired nodes only
        self._stopping = asyncio.Event()

    # ------------------------------------------------------------------ public
    async def run(self) -> None:
        """Serve all ports until :meth:`stop` or cancellation."""
        tasks = [asyncio.create_task(self._keep_open(p)) for p in self._ports]
        tasks.append(asyncio.create_task(self._sync_clocks()))
        try:
            await self._stopping.wait()
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            for p in self._ports:
                self._close(p, "stopped")

    def stop(self) -> None:
        self._stopping.set()

    def node_stats(self, now_mono: float | None = None) -> list[NodeStats]:
        now = time.monotonic() if now_mono is None else now_mono
        nodes = [*self._nodes.values()]
        for port in self._ports:
            nodes += port.unpaired.values()
        out = [self._refresh_stats(node, now) for node in nodes]
        return sorted(out, key=lambda s: (s.name, s.uid))

    def refresh_keys(self) -> list[str]:
        """Look every known node's key up again (after `pair` or a key rotation while the
        link runs): a node whose key or name changed gets a new session, so its next
        frames are taken (or refused) by what the key store now says. Returns their uids."""
        changed = []
        for port in self._ports:
            for node_id, node in list(port.unpaired.items()):
                if self._lookup(node.stats.uid) is not None:
                    del port.unpaired[node_id]  # its next frame makes it a paired node
                    changed.append(node.stats.uid)
        for node_id, node in list(self._nodes.items()):
            uid = node.stats.uid
            try:
                found = self._keys(uid)
            except Exception as exc:  # a broken key file must not stop the other nodes
                log.error("node %s: cannot load its key (%s); keeping its session", uid, exc)
                continue
            key, name = found if found else (None, node.port.spec.name or uid)
            same_key = (key is None) == (node.key is None) and (key is None or key == node.key)
            if same_key and name == node.stats.name:
                continue
            if key is None:
                del self._nodes[node_id]  # unpaired now: its next frame lists it so
            else:
                node.session = NodeSession(node_id, key, self._random)
                node.key = key
                node.stats.name = name or uid
            changed.append(uid)
            log.info("node %s: key store changed (%s); new session", uid,
                     "paired" if key is not None else "unpaired")
        return changed

    def _lookup(self, uid: str) -> tuple[SecretKey, str] | None:
        try:
            return self._keys(uid)
        except Exception as exc:  # a broken key file must not stop the other nodes
            log.error("node %s: cannot load its key (%s); treated as unpaired", uid, exc)
            return None

    def hold_port(self, path: str) -> bool:
        """Close `path` and keep it closed (pairing needs the port to itself); False if the
        link has no such port."""
        for port in self._ports:
            if port.spec.path == path:
                port.held = True
                self._close(port, "lent to pairing")
                for node in self._nodes.values():
                    if node.port is port:
                        node.integrity.port_lent()
                return True
        return False

    def give_back_port(self, path: str) -> None:
        """Reopen a port taken with :meth:`hold_port`."""
        for port in self._ports:
            if port.spec.path == path:
                port.held = False

    def _refresh_stats(self, node: _Node, now: float) -> NodeStats:
        st = node.stats
        integ = node.integrity
        st.lost_frames = integ.lost_total
        st.lost_frames_window = integ.lost_in_window(now)
        st.lag_ms = integ.lag_ms(now)
        st.forged_frames_window = integ.forged_in_window(now)
        st.link_problems = integ.problems(now)
        if node.session.state is SessionState.UNPAIRED:
            st.state = "unpaired"
        elif (node.session.state is SessionState.ESTABLISHED
              and st.last_seen_mono is not None
              and now - st.last_seen_mono <= self._heartbeat_timeout):
            st.state = "under_attack" if integ.under_attack(now) else "online"
        else:
            st.state = "offline"
        return st

    def port_stats(self) -> list[PortStats]:
        return [p.stats for p in self._ports]

    def channels(self, uid: str) -> dict[int, ChannelSpec]:
        node = self._nodes.get(bytes.fromhex(uid))
        return node.session.channels if node else {}

    def send(self, uid: str, message: Message) -> bool:
        """Send an authenticated command (CONFIG_SET, TIME_SYNC, REBOOT) to a node in
        session; False when there is no session or the port is closed."""
        node = self._nodes.get(bytes.fromhex(uid))
        if node is None:
            return False
        data = node.session.seal(message)
        return data is not None and self._write(node.port, data)

    async def _sync_clocks(self) -> None:
        """TIME_SYNC to every node in session now and then, so that the lag a reading
        shows is the link's, not the node crystal's drift."""
        while True:
            await asyncio.sleep(self._time_sync_interval)
            for node in list(self._nodes.values()):
                if node.session.state is SessionState.ESTABLISHED:
                    self.send(node.stats.uid, TimeSync(int(time.time() * 1000)))

    # ------------------------------------------------------------------ port life
    async def _keep_open(self, port: _Port) -> None:
        backoff = BACKOFF_START_S
        loop = asyncio.get_running_loop()
        while True:
            if port.fd is None and not port.held:
                if self._open(port, loop):
                    backoff = BACKOFF_START_S
                else:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self._backoff_max)
                    continue
            await asyncio.sleep(0.2)

    def _open(self, port: _Port, loop: asyncio.AbstractEventLoop) -> bool:
        try:
            ser = serial.Serial(port.spec.path, port.spec.baudrate, timeout=0)
        except (serial.SerialException, OSError, ValueError) as exc:
            absent = (getattr(exc, "errno", None) == errno.ENOENT
                      or not os.path.exists(port.spec.path))
            state = "absent" if absent else "failing"
            if (state, str(exc)) != (port.stats.state, port.stats.last_error):
                # once per new condition, not at every retry
                log.warning("%s: cannot open (%s): %s; retrying with backoff",
                            port.spec.path, "no such device" if absent else "failing", exc)
            port.stats.state, port.stats.last_error = state, str(exc)
            return False
        port.serial = ser
        port.fd = ser.fileno()
        os.set_blocking(port.fd, False)
        port.decoder = FrameDecoder()
        if port.stats.opens:
            port.stats.reopens += 1
            log.info("%s: port is back", port.spec.path)
        port.stats.is_open = True
        port.stats.state = "open"
        port.stats.opens += 1
        loop.add_reader(port.fd, self._on_readable, port)
        return True

    def _close(self, port: _Port, why: str) -> None:
        if port.fd is None:
            return
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(port.fd)
        with contextlib.suppress(Exception):
            if port.serial is not None:
                port.serial.close()
        port.fd = None
        port.serial = None
        port.stats.is_open = False
        port.stats.state = "closed"
        port.stats.last_error = why
        if why not in ("stopped", "lent to pairing"):
            log.warning("%s: port closed (%s); reopening with backoff", port.spec.path, why)

    def _write(self, port: _Port, data: bytes) -> bool:
        if port.fd is None:
            return False
        try:
            os.write(port.fd, data)
        except OSError:
            return False  # a full or vanished port; the node will ask again
        return True

    def _on_readable(self, port: _Port) -> None:
        assert port.fd is not None
        try:
            data = os.read(port.fd, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self._close(port, exc.strerror or "read error")
            return
        if not data:
            self._close(port, "end of file")
            return
        port.stats.bytes_in += len(data)
        self.ingest(port, data, time.time(), time.monotonic())

    # ------------------------------------------------------------------ frames
    def ingest(self, port: _Port, data: bytes, wall: float, mono: float) -> None:
        """Decode, rate-limit, authenticate and queue what `data` carries."""
        for item in port.decoder.feed(data):
            if isinstance(item, FrameError):
                port.stats.frame_errors[item.reason.value] += 1
                self._observer.on_reject(port.spec.path, None, item.reason)
                continue
            self._handle_frame(port, item, wall, mono)

    def _node_for(self, port: _Port, frame: Frame, mono: float) -> _Node:
        node = self._nodes.get(frame.node_id)
        if node is not None:
            node.port = port
            return node
        node = port.unpaired.get(frame.node_id)
        if node is not None:
            port.unpaired.move_to_end(frame.node_id)
            if mono - node.looked_up_mono < UNPAIRED_RECHECK_S:
                return node
        uid = frame.uid
        try:
            found = self._keys(uid)
        except Exception as exc:  # a broken key file must not stop the other nodes
            log.error("node %s: cannot load its key (%s); treated as unpaired", uid, exc)
            found = None
        if node is not None and found is None:
            node.looked_up_mono = mono
            return node
        key, name = found if found else (None, port.spec.name or uid)
        rate = port.spec.max_frames_per_second
        node = _Node(
            session=NodeSession(frame.node_id, key, self._random),
            stats=NodeStats(uid=uid, name=name or uid, port=port.spec.path),
            bucket=TokenBucket(rate, max(rate, 10.0), mono),
            hs_bucket=TokenBucket(HANDSHAKE_RATE, HANDSHAKE_RATE, mono),
            integrity=LinkIntegrity(self._limits),
            port=port,
            key=key,
            looked_up_mono=mono,
        )
        if key is not None:
            port.unpaired.pop(frame.node_id, None)
            self._nodes[frame.node_id] = node
        else:
            port.unpaired[frame.node_id] = node
            while len(port.unpaired) > MAX_UNPAIRED_PER_PORT:
                port.unpaired.popitem(last=False)
        return node

    def _admit(self, node: _Node, result: SessionResult, wall: float, mono: float) -> bool:
        """Charge an authentic frame to its node's budget and note its gap and lag; count
        a forged one. False: the node is over its budget and the frame is dropped."""
        if not result.authentic:
            if node.session.state is not SessionState.UNPAIRED and any(
                    r in FORGED_REASONS for r in result.rejected):
                node.integrity.forged(mono)
            return True
        if result.handshake:
            return node.hs_bucket.allow(mono)
        # it arrived (counts for gaps and lag) even if the budget then refuses it
        node.integrity.accepted(mono, result.lost_frames, result.node_time_ms, wall * 1000)
        return node.bucket.allow(mono)

    def _reject(self, port: _Port, node: _Node | None, uid: str | None,
                reason: RejectReason) -> None:
        if node is not None:
            node.stats.rejected[reason.value] += 1
        else:
            port.stats.frame_errors[reason.value] += 1
        self._observer.on_reject(port.spec.path, uid, reason)

    def _handle_frame(self, port: _Port, frame: Frame, wall: float, mono: float) -> None:
        node = self._node_for(port, frame, mono)
        result = node.session.handle(frame, int(wall * 1000))
        if not self._admit(node, result, wall, mono):
            self._reject(port, node, frame.uid, RejectReason.RATE_LIMITED)
            return
        for reply in result.replies:
            self._write(port, reply)
        for reason in result.rejected:
            self._reject(port, node, frame.uid, reason)
        if not result.messages:
            return
        st = node.stats
        st.frames_ok += 1
        st.last_seen_wall, st.last_seen_mono = wall, mono
        st.firmware_version = node.session.firmware_version or st.firmware_version
        for msg in result.messages:
            if isinstance(msg, ReadingMsg):
                spec = result.channels[msg.channel_id]
                reading = Reading(st.uid, st.name, spec.name, msg.value, spec.unit,
                                  msg.node_time_ms, wall, mono, frame.counter)
                try:
                    self.readings.put_nowait(reading)
                    st.readings_ok += 1
                except asyncio.QueueFull:
                    self.dropped += 1
                    self._reject(port, node, frame.uid, RejectReason.QUEUE_FULL)
            else:
                if isinstance(msg, Status):
                    node.integrity.status_report(mono, msg.frames_sent)
                self._observer.on_message(port.spec.path, st.uid, msg)

