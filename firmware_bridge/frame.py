"""Sans-IO frame codec: COBS framing with 0x00 delimiters, header, HMAC tag slot, CRC32.

The byte layout is documented in PROTOCOL.md. This module knows nothing about keys: it
splits the byte stream into frames, checks length, COBS and CRC, and hands back
:class:`Frame` objects or :class:`FrameError` values. It never raises on wire input.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from cobs import cobs

from firmware_bridge.reasons import RejectReason

PROTOCOL_VERSION = 1
FLAG_SIGNED = 0x01  # a TAG_LEN-byte tag follows the payload
FLAG_FROM_CONTROLLER = 0x02  # direction bit: controller -> node
KNOWN_FLAGS = FLAG_SIGNED | FLAG_FROM_CONTROLLER

NODE_ID_LEN = 8
TAG_LEN = 16  # truncated HMAC-SHA256: 128 bits (see PROTOCOL.md for why not 48)
CRC_LEN = 4
HEADER = struct.Struct("<BB8sIBH")  # version, flags, node id, counter, type, payload length
HEADER_LEN = HEADER.size  # 17
MAX_FRAME_LEN = 512  # decoded bytes, header to CRC inclusive
MAX_PAYLOAD_LEN = MAX_FRAME_LEN - HEADER_LEN - TAG_LEN - CRC_LEN  # 475
# COBS adds one byte per started 254-byte block (plus the leading code byte)
MAX_ENCODED_LEN = MAX_FRAME_LEN + MAX_FRAME_LEN // 254 + 1
MIN_FRAME_LEN = HEADER_LEN + CRC_LEN
DELIMITER = b"\x00"
_CRC = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame; `signed_part` is the exact bytes the tag covers (header + payload)."""

    version: int
    flags: int
    node_id: bytes
    counter: int
    msg_type: int
    payload: bytes
    tag: bytes | None
    signed_part: bytes = b""

    @property
    def from_controller(self) -> bool:
        return bool(self.flags & FLAG_FROM_CONTROLLER)

    @property
    def uid(self) -> str:
        """The node uid as printed everywhere: 16 upper-case hex digits."""
        return self.node_id.hex().upper()


@dataclass(frozen=True, slots=True)
class FrameError:
    """A run of bytes between delimiters that is not a frame, and why."""

    reason: RejectReason
    length: int  # bytes discarded (encoded), for statistics


def header_bytes(
    flags: int, node_id: bytes, counter: int, msg_type: int, payload: bytes
) -> bytes:
    """Header plus payload: the part of a frame the HMAC tag covers."""
    if len(node_id) != NODE_ID_LEN:
        raise ValueError(f"node id must be {NODE_ID_LEN} bytes")
    if len(payload) > MAX_PAYLOAD_LEN:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_LEN}")
    head = HEADER.pack(PROTOCOL_VERSION, flags, node_id, counter & 0xFFFFFFFF, msg_type,
                       len(payload))
    return head + payload


def encode_frame(signed_part: bytes, tag: bytes | None) -> bytes:
    """Wire bytes for `signed_part` (from :func:`header_bytes`) and its tag.

    The frame is sent between two delimiters: the leading one ends whatever line noise
    came before, so noise costs no good frame.
    """
    body = signed_part + (tag or b"")
    raw = body + _CRC.pack(zlib.crc32(body))
    return DELIMITER + cobs.encode(raw) + DELIMITER


def parse_frame(raw: bytes) -> Frame | FrameError:
    """Check and split one COBS-decoded frame (CRC, version, lengths)."""
    n = len(raw)
    if n < MIN_FRAME_LEN:
        return FrameError(RejectReason.TOO_SHORT, n)
    body = raw[:-CRC_LEN]
    if zlib.crc32(body) != _CRC.unpack_from(raw, n - CRC_LEN)[0]:
        return FrameError(RejectReason.BAD_CRC, n)
    version, flags, node_id, counter, msg_type, length = HEADER.unpack_from(raw)
    if version != PROTOCOL_VERSION or flags & ~KNOWN_FLAGS:
        return FrameError(RejectReason.BAD_VERSION, n)
    tag_len = TAG_LEN if flags & FLAG_SIGNED else 0
    if HEADER_LEN + length + tag_len != len(body):
        return FrameError(RejectReason.BAD_LENGTH, n)
    end = HEADER_LEN + length
    return Frame(
        version=version,
        flags=flags,
        node_id=node_id,
        counter=counter,
        msg_type=msg_type,
        payload=body[HEADER_LEN:end],
        tag=body[end:] if tag_len else None,
        signed_part=body[:end],
    )


class FrameDecoder:
    """Stream decoder: feed arbitrary chunks, get frames and typed errors; never raises.

    An over-long run is discarded without decoding it, up to the next delimiter, so a
    stream of garbage costs memory bounded by MAX_ENCODED_LEN and resynchronises at the
    next 0x00.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._discarding = False  # inside an over-long run: drop bytes until a delimiter
        self._discarded = 0

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        out: list[Frame | FrameError] = []
        start = 0
        n = len(data)
        while start < n:
            end = data.find(0, start)
            if end < 0:
                self._take_partial(data[start:], out)
                break
            chunk = data[start:end]
            start = end + 1
            if self._discarding:
                self._discarding = False
                out.append(FrameError(RejectReason.TOO_LONG, self._discarded + len(chunk)))
                self._discarded = 0
                continue
            if self._buf:
                self._buf += chunk
                run = bytes(self._buf)
                self._buf.clear()
            else:
                run = chunk
            if not run:
                continue  # back-to-back delimiters: a sender flushing its line, not an error
            if len(run) > MAX_ENCODED_LEN:
                out.append(FrameError(RejectReason.TOO_LONG, len(run)))
                continue
            out.append(self._decode_run(run))
        return out

    def _take_partial(self, tail: bytes, out: list[Frame | FrameError]) -> None:
        if self._discarding:
            self._discarded += len(tail)
            return
        if len(self._buf) + len(tail) > MAX_ENCODED_LEN:
            self._discarding = True
            self._discarded = len(self._buf) + len(tail)
            self._buf.clear()
            return
        self._buf += tail

    @staticmethod
    def _decode_run(run: bytes) -> Frame | FrameError:
        try:
            raw = cobs.decode(run)
        except cobs.DecodeError:
            return FrameError(RejectReason.BAD_COBS, len(run))
        return parse_frame(raw)
