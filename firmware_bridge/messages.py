"""Versioned message payloads (message set of protocol version 1), sans-IO.

Each message is a frozen dataclass with `encode() -> bytes` and a decoder in
:data:`DECODERS`. :func:`decode_message` never raises on wire input: unknown types give
``RejectReason.UNKNOWN_TYPE`` (counted and ignored), malformed payloads ``BAD_PAYLOAD``.
Layouts (little-endian, str8 = u8 length + UTF-8) are tabled in PROTOCOL.md; the node
firmware (firmware_bridge/node/wire.py) writes the same bytes and tests cross-check them.
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge.reasons import RejectReason

NONCE_LEN = 16
KEY_LEN = 32


class MsgType(enum.IntEnum):
    HELLO = 0x01  # node -> controller, handshake key
    WELCOME = 0x02  # controller -> node, handshake key
    HELLO_REQUEST = 0x03  # controller -> node, unsigned: "please start a handshake"
    READING = 0x10
    READING_BATCH = 0x11
    HEARTBEAT = 0x12
    STATUS = 0x13
    LOG = 0x14
    CONFIG_SET = 0x20  # controller -> node
    CONFIG_ACK = 0x21
    TIME_SYNC = 0x22  # controller -> node
    REBOOT = 0x23  # controller -> node
    PAIR_REQUEST = 0x30  # node -> controller, unsigned, only in pairing mode
    PAIR_KEY = 0x31  # controller -> node, unsigned
    PAIR_DONE = 0x32  # node -> controller, unsigned, carries a key confirmation


HANDSHAKE_TYPES = frozenset({MsgType.HELLO, MsgType.WELCOME})
UNSIGNED_TYPES = frozenset(
    {MsgType.HELLO_REQUEST, MsgType.PAIR_REQUEST, MsgType.PAIR_KEY, MsgType.PAIR_DONE}
)


class _Reader:
    """Cursor over a payload; any overrun raises ValueError, mapped to BAD_PAYLOAD."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("payload too short")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: struct.Struct) -> tuple[object, ...]:
        return fmt.unpack(self.take(fmt.size))

    def str8(self) -> str:
        (n,) = self.take(1)
        return self.take(n).decode("utf-8")

    def str16(self) -> str:
        (n,) = struct.unpack("<H", self.take(2))
        return self.take(n).decode("utf-8")

    def end(self) -> None:
        if self.pos != len(self.data):
            raise ValueError("trailing bytes")


def _str8(s: str) -> bytes:
    b = s.encode("utf-8")
    if len(b) > 255:
        raise ValueError("string longer than 255 bytes")
    return bytes([len(b)]) + b


_F32 = struct.Struct("<f")
_U64 = struct.Struct("<Q")
_CHANNEL_RANGE = struct.Struct("<ff")
_READING = struct.Struct("<BQf")
_HEARTBEAT = struct.Struct("<IQ")
_STATUS = struct.Struct("<fII")


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel a node declares in HELLO: readings outside [valid_min, valid_max] are refused."""

    channel_id: int
    name: str
    unit: str
    valid_min: float
    valid_max: float


@dataclass(frozen=True, slots=True)
class Hello:
    node_nonce: bytes
    firmware_version: str
    channels: tuple[ChannelSpec, ...]
    msg_type = MsgType.HELLO

    def encode(self) -> bytes:
        out = bytearray(self.node_nonce)
        out += _str8(self.firmware_version)
        out.append(len(self.channels))
        for c in self.channels:
            out.append(c.channel_id)
            out += _str8(c.name) + _str8(c.unit) + _CHANNEL_RANGE.pack(c.valid_min, c.valid_max)
        return bytes(out)

    @classmethod
    def decode(cls, r: _Reader) -> Hello:
        nonce = r.take(NONCE_LEN)
        fw = r.str8()
        (count,) = r.take(1)
        chans = []
        seen: set[int] = set()
        for _ in range(count):
            (cid,) = r.take(1)
            name, unit = r.str8(), r.str8()
            lo, hi = _CHANNEL_RANGE.unpack(r.take(_CHANNEL_RANGE.size))
            if cid in seen or not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
                raise ValueError("bad channel declaration")
            seen.add(cid)
            chans.append(ChannelSpec(cid, name, unit, lo, hi))
        return cls(nonce, fw, tuple(chans))


@dataclass(frozen=True, slots=True)
class Welcome:
    node_nonce: bytes  # echo of the HELLO it answers: a replayed WELCOME does not match
    session_nonce: bytes
    controller_time_ms: int
    msg_type = MsgType.WELCOME

    def encode(self) -> bytes:
        return self.node_nonce + self.session_nonce + _U64.pack(self.controller_time_ms)

    @classmethod
    def decode(cls, r: _Reader) -> Welcome:
        a, b = r.take(NONCE_LEN), r.take(NONCE_LEN)
        (t,) = _U64.unpack(r.take(8))
        return cls(a, b, t)


@dataclass(frozen=True, slots=True)
class HelloRequest:
    msg_type = MsgType.HELLO_REQUEST

    def encode(self) -> bytes:
        return b""

    @classmethod
    def decode(cls, r: _Reader) -> HelloRequest:
        return cls()


@dataclass(frozen=True, slots=True)
class ReadingMsg:
    channel_id: int
    node_time_ms: int
    value: float
    msg_type = MsgType.READING

    def encode(self) -> bytes:
        return _READING.pack(self.channel_id, self.node_time_ms, self.value)

    @classmethod
    def decode(cls, r: _Reader) -> ReadingMsg:
        c, t, v = _READING.unpack(r.take(_READING.size))
        return cls(c, t, v)


@dataclass(frozen=True, slots=True)
class ReadingBatch:
    readings: tuple[ReadingMsg, ...]
    msg_type = MsgType.READING_BATCH

    def encode(self) -> bytes:
        return bytes([len(self.readings)]) + b"".join(x.encode() for x in self.readings)

    @classmethod
    def decode(cls, r: _Reader) -> ReadingBatch:
        (n,) = r.take(1)
        return cls(tuple(ReadingMsg.decode(r) for _ in range(n)))


@dataclass(frozen=True, slots=True)
class Heartbeat:
    uptime_ms: int
    node_time_ms: int
    msg_type = MsgType.HEARTBEAT

    def encode(self) -> bytes:
        return _HEARTBEAT.pack(self.uptime_ms, self.node_time_ms)

    @classmethod
    def decode(cls, r: _Reader) -> Heartbeat:
        u, t = _HEARTBEAT.unpack(r.take(_HEARTBEAT.size))
        return cls(u, t)


@dataclass(frozen=True, slots=True)
class Status:
    rate_hz: float
    frames_sent: int
    frames_rejected: int
    active_faults: str  # comma-separated fault kinds, "" when none
    msg_type = MsgType.STATUS

    def encode(self) -> bytes:
        return _STATUS.pack(self.rate_hz, self.frames_sent, self.frames_rejected) + _str8(
            self.active_faults
        )

    @classmethod
    def decode(cls, r: _Reader) -> Status:
        rate, sent, rej = _STATUS.unpack(r.take(_STATUS.size))
        return cls(rate, sent, rej, r.str8())


@dataclass(frozen=True, slots=True)
class Log:
    level: int  # 10 debug, 20 info, 30 warning, 40 error (as Python logging)
    text: str
    msg_type = MsgType.LOG

    def encode(self) -> bytes:
        b = self.text.encode("utf-8")[:400]
        return bytes([self.level]) + struct.pack("<H", len(b)) + b

    @classmethod
    def decode(cls, r: _Reader) -> Log:
        (level,) = r.take(1)
        return cls(level, r.str16())


@dataclass(frozen=True, slots=True)
class ConfigSet:
    key: str  # "rate_hz" is the one key of firmware 1.x
    value: float
    msg_type = MsgType.CONFIG_SET

    def encode(self) -> bytes:
        return _str8(self.key) + _F32.pack(self.value)

    @classmethod
    def decode(cls, r: _Reader) -> ConfigSet:
        k = r.str8()
        (v,) = _F32.unpack(r.take(4))
        return cls(k, v)


@dataclass(frozen=True, slots=True)
class ConfigAck:
    key: str
    ok: bool
    value: float  # the value now in effect
    msg_type = MsgType.CONFIG_ACK

    def encode(self) -> bytes:
        return _str8(self.key) + bytes([1 if self.ok else 0]) + _F32.pack(self.value)

    @classmethod
    def decode(cls, r: _Reader) -> ConfigAck:
        k = r.str8()
        (ok,) = r.take(1)
        (v,) = _F32.unpack(r.take(4))
        return cls(k, bool(ok), v)


@dataclass(frozen=True, slots=True)
class TimeSync:
    controller_time_ms: int
    msg_type = MsgType.TIME_SYNC

    def encode(self) -> bytes:
        return _U64.pack(self.controller_time_ms)

    @classmethod
    def decode(cls, r: _Reader) -> TimeSync:
        (t,) = _U64.unpack(r.take(8))
        return cls(t)


@dataclass(frozen=True, slots=True)
class Reboot:
    msg_type = MsgType.REBOOT

    def encode(self) -> bytes:
        return b""

    @classmethod
    def decode(cls, r: _Reader) -> Reboot:
        return cls()


@dataclass(frozen=True, slots=True)
class PairRequest:
    pair_nonce: bytes
    firmware_version: str
    msg_type = MsgType.PAIR_REQUEST

    def encode(self) -> bytes:
        return self.pair_nonce + _str8(self.firmware_version)

    @classmethod
    def decode(cls, r: _Reader) -> PairRequest:
        return cls(r.take(NONCE_LEN), r.str8())


@dataclass(frozen=True, slots=True)
class PairKey:
    pair_nonce: bytes
    key: bytes

    msg_type = MsgType.PAIR_KEY

    def __repr__(self) -> str:  # key material never in reprs or logs
        return f"PairKey(pair_nonce={self.pair_nonce.hex()}, key=<redacted>)"

    def encode(self) -> bytes:
        return self.pair_nonce + self.key

    @classmethod
    def decode(cls, r: _Reader) -> PairKey:
        return cls(r.take(NONCE_LEN), r.take(KEY_LEN))


@dataclass(frozen=True, slots=True)
class PairDone:
    confirmation: bytes  # HMAC-SHA256(key, b"edgewarden pair v1" + pair_nonce)[:16]
    msg_type = MsgType.PAIR_DONE

    def encode(self) -> bytes:
        return self.confirmation

    @classmethod
    def decode(cls, r: _Reader) -> PairDone:
        return cls(r.take(16))


Message = (
    Hello | Welcome | HelloRequest | ReadingMsg | ReadingBatch | Heartbeat | Status | Log
    | ConfigSet | ConfigAck | TimeSync | Reboot | PairRequest | PairKey | PairDone
)

DECODERS: dict[int, Callable[[_Reader], Message]] = {
    MsgType.HELLO: Hello.decode,
    MsgType.WELCOME: Welcome.decode,
    MsgType.HELLO_REQUEST: HelloRequest.decode,
    MsgType.READING: ReadingMsg.decode,
    MsgType.READING_BATCH: ReadingBatch.decode,
    MsgType.HEARTBEAT: Heartbeat.decode,
    MsgType.STATUS: Status.decode,
    MsgType.LOG: Log.decode,
    MsgType.CONFIG_SET: ConfigSet.decode,
    MsgType.CONFIG_ACK: ConfigAck.decode,
    MsgType.TIME_SYNC: TimeSync.decode,
    MsgType.REBOOT: Reboot.decode,
    MsgType.PAIR_REQUEST: PairRequest.decode,
    MsgType.PAIR_KEY: PairKey.decode,
    MsgType.PAIR_DONE: PairDone.decode,
}


def decode_message(msg_type: int, payload: bytes) -> Message | RejectReason:
    """The message in `payload`, or why not (UNKNOWN_TYPE, BAD_PAYLOAD); never raises."""
    decoder = DECODERS.get(msg_type)
    if decoder is None:
        return RejectReason.UNKNOWN_TYPE
    reader = _Reader(payload)
    try:
        msg = decoder(reader)
        reader.end()
    except (ValueError, struct.error, UnicodeDecodeError):
        return RejectReason.BAD_PAYLOAD
    return msg
