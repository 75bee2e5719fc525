"""Test doubles: an in-memory board for the firmware and a wire between it and a session."""

from __future__ import annotations

import os

from firmware_bridge.frame import Frame, FrameDecoder
from firmware_bridge.node.firmware import Node
from firmware_bridge.node.sensors import Faults, parse_fault
from firmware_bridge.session import NodeSession, SessionResult
from firmware_bridge.signing import SecretKey

UID = bytes.fromhex("E66138935F2A1B01")


class MemHal:
    """The firmware's board with a fake clock and byte buffers instead of a UART."""

    def __init__(self, key: bytes | None, pairing: bool = False) -> None:
        self.now = 1000
        self.key = key
        self.button = pairing
        self.inbox = bytearray()
        self.outbox = bytearray()

    def ticks_ms(self) -> int:
        return self.now

    def ticks_diff(self, a: int, b: int) -> int:
        return a - b

    def sleep_ms(self, ms: int) -> None:
        self.now += ms

    def urandom(self, n: int) -> bytes:
        return os.urandom(n)

    def read(self) -> bytes:
        data = bytes(self.inbox)
        self.inbox.clear()
        return data

    def write(self, data: bytes) -> None:
        self.outbox += data

    def pairing_button(self) -> bool:
        return self.button

    def load_key(self) -> bytes | None:
        return self.key

    def store_key(self, key: bytes) -> None:
        self.key = key
        self.button = False

    def unique_id(self) -> bytes:
        return UID

    def reset(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self.outbox)
        self.outbox.clear()
        return data


class Bench:
    """Firmware node + controller session joined by an in-memory wire."""

    def __init__(self, node_key: bytes | None, ctrl_key: bytes | None, rate_hz: float = 10.0,
                 faults: list[str] | None = None) -> None:
        self.hal = MemHal(node_key)
        self.node = Node(self.hal, rate_hz=rate_hz,  # type: ignore[arg-type]
                         faults=Faults([parse_fault(f) for f in faults or []]))
        self.session = NodeSession(UID, SecretKey(ctrl_key) if ctrl_key else None, os.urandom)
        self.decoder = FrameDecoder()
        self.results: list[SessionResult] = []
        self.frame_errors: list[object] = []
        self.frames: list[Frame] = []
        self.wire_log = bytearray()  # every byte the node sent

    def step(self, ms: int = 10) -> None:
        self.node.poll()
        self.hal.sleep_ms(ms)
        data = self.hal.take()
        self.wire_log += data
        self.deliver(data)

    def deliver(self, data: bytes) -> None:
        for item in self.decoder.feed(data):
            if isinstance(item, Frame):
                self.frames.append(item)
                res = self.session.handle(item, 1_700_000_000_000 + self.hal.now)
                self.results.append(res)
                for reply in res.replies:
                    self.hal.inbox += reply
            else:
                self.frame_errors.append(item)

    def run(self, seconds: float, ms: int = 10) -> None:
        for _ in range(int(seconds * 1000 / ms)):
            self.step(ms)

    def readings(self) -> list[object]:
        from firmware_bridge.messages import ReadingMsg
        return [m for r in self.results for m in r.messages if isinstance(m, ReadingMsg)]

    def rejected(self) -> list[object]:
        return [x for r in self.results for x in r.rejected]
