"""The node's side of the wire format (PROTOCOL.md), written for MicroPython.

Mirrors firmware_bridge.frame / messages / signing without dataclasses, enum or C
packages; the test suite checks both sides produce and accept the same bytes.
"""

import struct

from . import cobs_codec
from .hmac_sha256 import HmacKey, equal

try:
    from binascii import crc32 as _crc32
except ImportError:  # pragma: no cover - ports built without binascii.crc32
    _crc32 = None  # type: ignore[assignment]

VERSION = 1
FLAG_SIGNED = 0x01
FLAG_FROM_CONTROLLER = 0x02
HEADER_FMT = "<BB8sIBH"
HEADER_LEN = 17
TAG_LEN = 16
MAX_FRAME_LEN = 512
MAX_ENCODED_LEN = MAX_FRAME_LEN + MAX_FRAME_LEN // 254 + 1
NONCE_LEN = 16

HELLO = 0x01
WELCOME = 0x02
HELLO_REQUEST = 0x03
READING = 0x10
READING_BATCH = 0x11
HEARTBEAT = 0x12
STATUS = 0x13
LOG = 0x14
CONFIG_SET = 0x20
CONFIG_ACK = 0x21
TIME_SYNC = 0x22
REBOOT = 0x23
PAIR_REQUEST = 0x30
PAIR_KEY = 0x31
PAIR_DONE = 0x32

_CRC_TABLE = None


def crc32_fallback(data: bytes, crc: int = 0) -> int:
    """Table-driven CRC-32 (IEEE), identical to zlib.crc32."""
    global _CRC_TABLE
    if _CRC_TABLE is None:
        table = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
            table.append(c)
        _CRC_TABLE = table
    t = _CRC_TABLE
    crc = crc ^ 0xFFFFFFFF
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc32(data: bytes) -> int:
    if _crc32 is not None:
        return _crc32(data) & 0xFFFFFFFF
    return crc32_fallback(data)


def derive(key: bytes, label: bytes) -> HmacKey:
    return HmacKey(HmacKey(key).digest(label))


def handshake_key(key: bytes) -> HmacKey:
    return derive(key, b"edgewarden hs v1")


def session_key(key: bytes, node_nonce: bytes, session_nonce: bytes) -> HmacKey:
    return derive(key, b"edgewarden session v1" + node_nonce + session_nonce)


def pair_confirmation(key: bytes, pair_nonce: bytes) -> bytes:
    return HmacKey(key).digest(b"edgewarden pair v1" + pair_nonce)[:16]


def build(node_id: bytes, counter: int, msg_type: int, payload: bytes,
          tag_key: "HmacKey | None", corrupt_tag: bool = False) -> bytes:
    """Wire bytes (COBS + delimiter) of a node-to-controller frame."""
    flags = FLAG_SIGNED if tag_key is not None else 0
    part = struct.pack(HEADER_FMT, VERSION, flags, node_id, counter & 0xFFFFFFFF, msg_type,
                       len(payload)) + payload
    body = part
    if tag_key is not None:
        tag = tag_key.digest(part)[:TAG_LEN]
        if corrupt_tag:
            tag = bytes([tag[0] ^ 0x01]) + tag[1:]
        body = part + tag
    body = body + struct.pack("<I", crc32(body))
    return b"\x00" + cobs_codec.encode(body) + b"\x00"  # leading 0x00 ends line noise


class Frame:
    """A parsed controller-to-node frame (no dataclasses on MicroPython)."""

    def __init__(self, flags: int, node_id: bytes, counter: int, msg_type: int,
                 payload: bytes, tag: "bytes | None", signed_part: bytes) -> None:
        self.flags = flags
        self.node_id = node_id
        self.counter = counter
        self.msg_type = msg_type
        self.payload = payload
        self.tag = tag
        self.signed_part = signed_part

    def verify(self, tag_key: HmacKey) -> bool:
        if self.tag is None:
            return False
        return equal(tag_key.digest(self.signed_part)[:TAG_LEN], self.tag)


def parse(run: bytes) -> "Frame | None":
    """One COBS run (no delimiter) -> Frame, or None if it is not a valid frame."""
    if len(run) > MAX_ENCODED_LEN:
        return None
    try:
        raw = cobs_codec.decode(run)
    except ValueError:
        return None
    if len(raw) < HEADER_LEN + 4:
        return None
    body = raw[:-4]
    if crc32(body) != struct.unpack("<I", raw[-4:])[0]:
        return None
    version, flags, node_id, counter, msg_type, length = struct.unpack(
        HEADER_FMT, body[:HEADER_LEN])
    if version != VERSION:
        return None
    tag_len = TAG_LEN if flags & FLAG_SIGNED else 0
    if HEADER_LEN + length + tag_len != len(body):
        return None
    end = HEADER_LEN + length
    tag = body[end:] if tag_len else None
    return Frame(flags, node_id, counter, msg_type, body[HEADER_LEN:end], tag, body[:end])


class StreamSplitter:
    """Splits the UART byte stream at 0x00; drops over-long runs before decoding them."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list:
        runs = []
        for b in data:
            if b == 0:
                if self._buf and not self._discarding:
                    runs.append(bytes(self._buf))
                self._buf = bytearray()
                self._discarding = False
            elif not self._discarding:
                self._buf.append(b)
                if len(self._buf) > MAX_ENCODED_LEN:
                    self._discarding = True
                    self._buf = bytearray()
        return runs


def str8(s: str) -> bytes:
    b = s.encode("utf-8")[:255]
    return bytes([len(b)]) + b


def hello_payload(node_nonce: bytes, firmware_version: str, channels: list) -> bytes:
    """channels: list of (channel_id, name, unit, valid_min, valid_max)."""
    out = bytearray(node_nonce)
    out += str8(firmware_version)
    out.append(len(channels))
    for cid, name, unit, lo, hi in channels:
        out.append(cid)
        out += str8(name) + str8(unit) + struct.pack("<ff", lo, hi)
    return bytes(out)


def reading_entry(channel_id: int, node_time_ms: int, value: float) -> bytes:
    return struct.pack("<BQf", channel_id, node_time_ms, value)


def batch_payload(entries: list) -> bytes:
    return bytes([len(entries)]) + b"".join(entries)


def heartbeat_payload(uptime_ms: int, node_time_ms: int) -> bytes:
    return struct.pack("<IQ", uptime_ms & 0xFFFFFFFF, node_time_ms)


def status_payload(rate_hz: float, sent: int, rejected: int, faults: str) -> bytes:
    return struct.pack("<fII", rate_hz, sent & 0xFFFFFFFF, rejected & 0xFFFFFFFF) + str8(faults)


def log_payload(level: int, text: str) -> bytes:
    b = text.encode("utf-8")[:400]
    return bytes([level]) + struct.pack("<H", len(b)) + b


def config_ack_payload(key: str, ok: bool, value: float) -> bytes:
    return str8(key) + bytes([1 if ok else 0]) + struct.pack("<f", value)


def parse_welcome(payload: bytes) -> "tuple | None":
    """(node_nonce, session_nonce, controller_time_ms) or None."""
    if len(payload) != 2 * NONCE_LEN + 8:
        return None
    (t,) = struct.unpack("<Q", payload[32:40])
    return payload[:16], payload[16:32], t


def parse_config_set(payload: bytes) -> "tuple | None":
    if not payload or len(payload) != 1 + payload[0] + 4:
        return None
    n = payload[0]
    try:
        key = payload[1:1 + n].decode("utf-8")
    except UnicodeError:
        return None
    (value,) = struct.unpack("<f", payload[1 + n:])
    return key, value


def parse_time_sync(payload: bytes) -> "int | None":
    if len(payload) != 8:
        return None
    return struct.unpack("<Q", payload)[0]


def parse_pair_key(payload: bytes) -> "tuple | None":
    if len(payload) != NONCE_LEN + 32:
        return None
    return payload[:NONCE_LEN], payload[NONCE_LEN:]


def equal_nonce(a: bytes, b: bytes) -> bool:
    return equal(a, b)
