"""An attacker on the cable: a relay between a node's pty and the controller's, and a forger.

The relay opens the node's pty like a controller would and offers a new pty to the real
controller; it forwards every frame both ways, except that it may drop the node's frames
a predicate picks or hold every node frame back for `hold_s`. It reads the frames as any
tap can (readings travel in clear) but holds no key.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from collections import deque
from collections.abc import Callable

from cobs import cobs

from firmware_bridge.frame import Frame, encode_frame, parse_frame
from firmware_bridge.messages import MsgType, ReadingBatch, ReadingMsg, decode_message
from firmware_bridge.signing import build_unsigned_frame


def _open_raw(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    return fd


def carries_door_open(frame: Frame) -> bool:
    """A READING(_BATCH) whose door channel (3) reads 1."""
    msg = decode_message(frame.msg_type, frame.payload)
    readings = msg.readings if isinstance(msg, ReadingBatch) else (
        [msg] if isinstance(msg, ReadingMsg) else [])
    return any(r.channel_id == 3 and r.value >= 0.5 for r in readings)


class Relay:
    def __init__(self, node_path: str, drop: Callable[[Frame], bool] | None = None,
                 hold_s: float = 0.0) -> None:
        self.node_fd = _open_raw(node_path)
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        os.set_blocking(master, False)
        self.master, self._slave = master, slave
        self.path = os.ttyname(slave)
        self.drop = drop
        self.hold_s = hold_s
        self.dropped = 0
        self.forwarded = 0
        self._held: deque[tuple[float, bytes]] = deque()
        self._buf = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="relay")

    def start(self) -> Relay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for fd in (self.node_fd, self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def inject(self, data: bytes) -> None:
        """Bytes of the attacker's own, towards the controller."""
        _write_all(self.master, data)

    def inject_to_node(self, data: bytes) -> None:
        """Bytes of the attacker's own, towards the node."""
        _write_all(self.node_fd, data)

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.node_fd, self.master], [], [], 0.01)
            if self.node_fd in ready:
                with contextlib.suppress(BlockingIOError, OSError):
                    self._from_node(os.read(self.node_fd, 65536))
            if self.master in ready:
                with contextlib.suppress(BlockingIOError, OSError):
                    _write_all(self.node_fd, os.read(self.master, 65536))  # commands pass
            now = time.monotonic()
            while self._held and self._held[0][0] <= now:
                _write_all(self.master, self._held.popleft()[1])

    def _from_node(self, data: bytes) -> None:
        runs = (self._buf + data).split(b"\x00")
        self._buf = runs.pop()
        for run in runs:
            if not run:
                continue
            try:
                frame = parse_frame(cobs.decode(run))
            except cobs.DecodeError:
                continue
            if not isinstance(frame, Frame):
                continue
            if self.drop is not None and self.drop(frame):
                self.dropped += 1
                continue
            self.forwarded += 1
            wire = encode_frame(frame.signed_part, frame.tag)
            self._held.append((time.monotonic() + self.hold_s, wire))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            select.select([], [fd], [], 0.05)


class GapHider:
    """Drops every frame saying the door is open, then hides the counter gap: it keeps
    dropping the node's frames, forges a HELLO_REQUEST so the node starts a new session
    (whose counter starts again at 1), and lets frames through from that session on."""

    def __init__(self) -> None:
        self.relay: Relay | None = None
        self.hiding = False
        self.rehandshakes = 0

    def __call__(self, frame: Frame) -> bool:
        if self.hiding:
            if frame.msg_type == MsgType.HELLO:
                return False
            if frame.counter == 1:  # the first frame of the new session
                self.hiding = False
                return False
            self._ask_for_hello(frame)  # the node heeds one request per 500 ms
            return True
        if carries_door_open(frame):
            self.hiding = True
            self.rehandshakes += 1
            self._ask_for_hello(frame)
            return True
        return False

    def _ask_for_hello(self, frame: Frame) -> None:
        assert self.relay is not None
        self.relay.inject_to_node(build_unsigned_frame(
            frame.node_id, 0, MsgType.HELLO_REQUEST, b"", from_controller=True))
