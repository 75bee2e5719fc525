"""Replayed HELLOs during a handshake (issue 14), real firmware against the real session."""

from __future__ import annotations

import os

from firmware_bridge.frame import Frame, FrameDecoder, encode_frame
from firmware_bridge.messages import MsgType
from firmware_bridge.signing import build_unsigned_frame

from .helpers import UID, Bench


def _hellos(wire: bytes) -> list[bytes]:
    """Every HELLO the node sent, as a tap on the cable recorded it."""
    out = []
    for item in FrameDecoder().feed(wire):
        if isinstance(item, Frame) and item.msg_type == MsgType.HELLO:
            out.append(encode_frame(item.signed_part, item.tag))
    return out


def _ask_for_hello(bench: Bench) -> None:
    """A forged (unsigned) HELLO_REQUEST: the node starts a new handshake."""
    bench.hal.inbox += build_unsigned_frame(UID, 0, MsgType.HELLO_REQUEST, b"",
                                            from_controller=True)


def _new_handshake(bench: Bench, replays: list[bytes]) -> None:
    """Let the node say HELLO, then replay old HELLOs before its first frame arrives."""
    _ask_for_hello(bench)
    bench.node.poll()  # reads the request, sends its new HELLO
    bench.deliver(bench.hal.take())  # the controller answers it (WELCOME queued for the node)
    for old in replays:
        bench.deliver(old)


def _established(bench: Bench, times: int) -> None:
    for _ in range(times):
        _ask_for_hello(bench)
        bench.run(1.0)


def test_one_replayed_hello_during_welcome_costs_nothing() -> None:
    key = os.urandom(32)
    bench = Bench(key, key, rate_hz=10.0)
    bench.run(1.5)
    _established(bench, 1)  # two sessions so far: the first HELLO is not the current one
    first = _hellos(bytes(bench.wire_log))[0]
    before = len(bench.readings())
    _new_handshake(bench, [first])
    bench.run(2.0)
    assert "bad_signature" not in [r.value for r in bench.rejected()]
    assert len(bench.readings()) - before >= 15


def test_a_broken_session_is_asked_to_say_hello_again() -> None:
    """Two replayed HELLOs push the node's real one out of the pending table; the node's
    frames then verify under nothing, and the controller asks it for a new HELLO."""
    key = os.urandom(32)
    bench = Bench(key, key, rate_hz=10.0)
    bench.run(1.5)
    _established(bench, 2)
    old = _hellos(bytes(bench.wire_log))[:2]
    _new_handshake(bench, old)
    bench.run(1.0)
    broken = len(bench.readings())
    bench.run(3.0)
    assert [r.value for r in bench.rejected()].count("bad_signature") > 0  # it did break
    assert len(bench.readings()) - broken >= 10  # ... and recovered by itself
    replies = [r for res in bench.results for r in res.replies]
    requests = [f for b in replies for f in FrameDecoder().feed(b)
                if isinstance(f, Frame) and f.msg_type == MsgType.HELLO_REQUEST]
    assert requests
