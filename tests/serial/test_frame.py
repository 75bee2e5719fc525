"""Frame codec: round trips, errors, resynchronisation, and fuzzing."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.frame import (
    FLAG_SIGNED,
    MAX_ENCODED_LEN,
    MAX_PAYLOAD_LEN,
    Frame,
    FrameDecoder,
    FrameError,
    encode_frame,
    header_bytes,
)
from firmware_bridge.reasons import RejectReason
from firmware_bridge.session import NodeSession
from firmware_bridge.signing import SecretKey, build_signed_frame, session_key

NODE = bytes.fromhex("0102030405060708")


def signed(payload: bytes = b"abc", counter: int = 7, msg_type: int = 0x10) -> bytes:
    return build_signed_frame(b"k" * 32, NODE, counter, msg_type, payload, False)


def test_round_trip_signed_and_unsigned() -> None:
    dec = FrameDecoder()
    unsigned = encode_frame(header_bytes(0, NODE, 3, 0x30, b"\x00\x01\x00"), None)
    out = dec.feed(signed(b"\x00hello\x00") + unsigned)
    assert [type(x) for x in out] == [Frame, Frame]
    a, b = out
    assert isinstance(a, Frame) and isinstance(b, Frame)
    assert (a.node_id, a.counter, a.msg_type, a.payload) == (NODE, 7, 0x10, b"\x00hello\x00")
    assert a.flags & FLAG_SIGNED and a.tag is not None and len(a.tag) == 16
    assert a.uid == "0102030405060708"
    assert b.tag is None and b.payload == b"\x00\x01\x00"


def test_maximum_payload_round_trips_and_larger_is_refused() -> None:
    payload = os.urandom(MAX_PAYLOAD_LEN)
    (f,) = FrameDecoder().feed(signed(payload))
    assert isinstance(f, Frame) and f.payload == payload
    try:
        header_bytes(0, NODE, 1, 1, b"x" * (MAX_PAYLOAD_LEN + 1))
    except ValueError:
        pass
    else:
        raise AssertionError("oversized payload accepted")


def test_bit_flip_gives_crc_error_and_next_frame_decodes() -> None:
    bad = bytearray(signed())
    bad[5] ^= 0x10 if bad[5] ^ 0x10 else 0x20
    out = FrameDecoder().feed(bytes(bad) + signed(counter=8))
    assert isinstance(out[0], FrameError) and out[0].reason in (
        RejectReason.BAD_CRC, RejectReason.BAD_COBS)
    assert isinstance(out[1], Frame) and out[1].counter == 8


def test_truncated_frame_resyncs_at_next_delimiter() -> None:
    whole = signed()
    out = FrameDecoder().feed(whole[:10] + b"\x00" + signed(counter=9))
    assert isinstance(out[0], FrameError)
    assert isinstance(out[-1], Frame) and out[-1].counter == 9


def test_overlong_run_discarded_before_decoding_across_chunks() -> None:
    dec = FrameDecoder()
    out: list[Frame | FrameError] = []
    for _ in range(20):  # 20 kB of non-zero garbage in chunks, no delimiter
        out += dec.feed(b"\x55" * 1000)
    assert out == []
    assert len(dec._buf) <= MAX_ENCODED_LEN  # memory stays bounded
    out = dec.feed(b"\x00" + signed(counter=11))
    assert isinstance(out[0], FrameError) and out[0].reason is RejectReason.TOO_LONG
    assert isinstance(out[1], Frame) and out[1].counter == 11


def test_byte_at_a_time_equals_all_at_once() -> None:
    stream = b"junk\x00" + signed(counter=1) + signed(b"", counter=2) + b"\x01\x02"
    whole = FrameDecoder().feed(stream)
    dec = FrameDecoder()
    pieces = [x for i in range(len(stream)) for x in dec.feed(stream[i:i + 1])]
    assert pieces == whole


def test_unknown_version_and_length_mismatch_are_typed_errors() -> None:
    import struct
    import zlib

    from cobs import cobs
    part = bytearray(header_bytes(0, NODE, 1, 1, b"xy"))
    part[0] = 9
    raw = bytes(part) + struct.pack("<I", zlib.crc32(bytes(part)))
    (e,) = FrameDecoder().feed(cobs.encode(raw) + b"\x00")
    assert isinstance(e, FrameError) and e.reason is RejectReason.BAD_VERSION
    part = bytearray(header_bytes(FLAG_SIGNED, NODE, 1, 1, b"xy"))  # signed flag, no tag
    raw = bytes(part) + struct.pack("<I", zlib.crc32(bytes(part)))
    (e,) = FrameDecoder().feed(cobs.encode(raw) + b"\x00")
    assert isinstance(e, FrameError) and e.reason is RejectReason.BAD_LENGTH


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=700), max_size=8))
def test_fuzz_decoder_never_raises_and_never_accepts_forgery(chunks: list[bytes]) -> None:
    dec = FrameDecoder()
    key = SecretKey(b"\x42" * 32)
    sess = NodeSession(NODE, key, lambda n: b"\x00" * n)
    for chunk in chunks:
        for item in dec.feed(chunk):
            assert isinstance(item, Frame | FrameError)
            if isinstance(item, Frame):
                res = sess.handle(item, 0)
                assert res.messages == [], "random bytes were accepted as authentic"


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.integers(0, 2**32 - 1),
       st.integers(0, 255), st.binary(max_size=64))
def test_fuzz_round_trip_and_prefix_garbage(payload: bytes, counter: int, mtype: int,
                                            garbage: bytes) -> None:
    frame = build_signed_frame(session_key(SecretKey(b"\x01" * 32), b"a" * 16, b"b" * 16),
                               NODE, counter, mtype, payload, False)
    out = FrameDecoder().feed(garbage + b"\x00" + frame)
    good = [x for x in out if isinstance(x, Frame)]
    assert good and good[-1].payload == payload and good[-1].counter == counter


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 200), st.integers(0, 7))
def test_any_single_bit_flip_is_never_accepted(pos: int, bit: int) -> None:
    """A flipped bit is caught by COBS/CRC/tag: never a changed frame accepted."""
    key = SecretKey(b"\x07" * 32)
    sess = NodeSession(NODE, key, lambda n: b"\x11" * n)
    sess._current = None
    frame = bytearray(signed(b"payload-bytes"))
    pos %= len(frame) - 1
    frame[pos] ^= 1 << bit
    for item in FrameDecoder().feed(bytes(frame)):
        if isinstance(item, Frame):
            assert item.payload == b"payload-bytes" or sess.handle(item, 0).messages == []
