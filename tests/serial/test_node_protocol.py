"""The MicroPython firmware's wire code against the controller's, and the session rules."""

from __future__ import annotations

import os
import random
import zlib

import pytest
from cobs import cobs

from firmware_bridge import messages as m
from firmware_bridge.frame import Frame, FrameDecoder
from firmware_bridge.node import cobs_codec, wire
from firmware_bridge.node.hmac_sha256 import hmac_sha256
from firmware_bridge.reasons import RejectReason
from firmware_bridge.session import SessionState
from firmware_bridge.signing import ReplayWindow, SecretKey, handshake_key, session_key

from .helpers import UID, Bench

KEY = b"\x5a" * 32


@pytest.mark.parametrize("n", [0, 1, 253, 254, 255, 508, 509, 600])
def test_node_cobs_matches_cobs_package(n: int) -> None:
    rng = random.Random(n)
    for zeros in (0.0, 0.05, 0.5):
        data = bytes(0 if rng.random() < zeros else rng.randint(1, 255) for _ in range(n))
        assert cobs_codec.encode(data) == cobs.encode(data)
        assert cobs_codec.decode(cobs.encode(data)) == data


def test_node_cobs_rejects_invalid() -> None:
    with pytest.raises(ValueError):
        cobs_codec.decode(b"\x05ab")
    with pytest.raises(ValueError):
        cobs_codec.decode(b"\x03a\x00")


def test_node_crc_and_hmac_match_the_standard_ones() -> None:
    data = os.urandom(300)
    assert wire.crc32_fallback(data) == zlib.crc32(data) == wire.crc32(data)
    import hmac
    assert hmac_sha256(KEY, data) == hmac.digest(KEY, data, "sha256")
    assert wire.handshake_key(KEY).digest(b"x") == hmac.digest(
        handshake_key(SecretKey(KEY)), b"x", "sha256")
    assert wire.session_key(KEY, b"a" * 16, b"b" * 16).digest(b"y") == hmac.digest(
        session_key(SecretKey(KEY), b"a" * 16, b"b" * 16), b"y", "sha256")


def test_node_frames_decode_on_controller_and_back() -> None:
    k = wire.session_key(KEY, b"n" * 16, b"s" * 16)
    data = wire.build(UID, 5, wire.READING, wire.reading_entry(2, 123, 0.5), k)
    (f,) = FrameDecoder().feed(data)
    assert isinstance(f, Frame) and f.counter == 5
    assert m.decode_message(f.msg_type, f.payload) == m.ReadingMsg(2, 123, 0.5)
    # controller -> node
    from firmware_bridge.signing import build_signed_frame
    tk = session_key(SecretKey(KEY), b"n" * 16, b"s" * 16)
    out = build_signed_frame(tk, UID, 9, m.MsgType.CONFIG_SET,
                             m.ConfigSet("rate_hz", 5.0).encode(), True)
    (run,) = wire.StreamSplitter().feed(out)
    nf = wire.parse(run)
    assert nf is not None and nf.verify(k) and nf.counter == 9
    assert wire.parse_config_set(nf.payload) == ("rate_hz", 5.0)


def test_message_round_trips() -> None:
    msgs: list[m.Message] = [
        m.Hello(b"n" * 16, "1.0", (m.ChannelSpec(0, "temperature", "C", -40, 85),)),
        m.Welcome(b"a" * 16, b"b" * 16, 1_700_000_000_000), m.HelloRequest(),
        m.ReadingMsg(1, 5, 2.5), m.ReadingBatch((m.ReadingMsg(0, 1, 1.0), m.ReadingMsg(3, 1, 0))),
        m.Heartbeat(10, 20), m.Status(2.0, 5, 1, "spike,drift"), m.Log(20, "hé"),
        m.ConfigSet("rate_hz", 4.0), m.ConfigAck("rate_hz", True, 4.0), m.TimeSync(99),
        m.Reboot(), m.PairRequest(b"p" * 16, "1.0"), m.PairKey(b"p" * 16, b"k" * 32),
        m.PairDone(b"c" * 16)]
    for msg in msgs:
        assert m.decode_message(msg.msg_type, msg.encode()) == msg
    assert m.decode_message(0x7F, b"") is RejectReason.UNKNOWN_TYPE
    assert m.decode_message(m.MsgType.READING, b"\x00") is RejectReason.BAD_PAYLOAD
    assert m.decode_message(m.MsgType.HEARTBEAT, b"\x00" * 13) is RejectReason.BAD_PAYLOAD
    assert "k" * 8 not in repr(m.PairKey(b"p" * 16, b"k" * 32))
    assert "5a5a" not in repr(SecretKey(KEY)).lower()


def test_replay_window() -> None:
    w = ReplayWindow(4)
    for c in (1, 2, 5):
        assert w.check(c) is None
        w.commit(c)
    assert w.check(5) is RejectReason.REPLAYED
    assert w.check(2) is RejectReason.REPLAYED
    assert w.check(3) is None  # late but inside the window
    w.commit(3)
    assert w.check(3) is RejectReason.REPLAYED
    assert w.check(1) is RejectReason.OUT_OF_WINDOW


def test_handshake_then_readings_flow() -> None:
    b = Bench(KEY, KEY, rate_hz=10)
    assert b.session.state is SessionState.AWAITING_HELLO
    b.run(1.0)
    assert b.session.state is SessionState.ESTABLISHED
    readings = b.readings()
    assert len(readings) >= 4 * 8
    assert b.rejected() == []
    assert {r.channel_id for r in readings} == {0, 1, 2, 3}


def test_config_set_changes_the_sampling_rate() -> None:
    b = Bench(KEY, KEY, rate_hz=2)
    b.run(0.5)
    sealed = b.session.seal(m.ConfigSet("rate_hz", 50.0))
    assert sealed is not None
    b.hal.inbox += sealed
    before = len(b.readings())
    b.run(1.0)
    acks = [x for r in b.results for x in r.messages if isinstance(x, m.ConfigAck)]
    assert acks == [m.ConfigAck("rate_hz", True, 50.0)]
    assert len(b.readings()) - before >= 4 * 40
    # a replayed command is ignored by the node
    b.hal.inbox += sealed
    b.run(0.1)
    assert len([x for r in b.results for x in r.messages if isinstance(x, m.ConfigAck)]) == 1


def test_wrong_key_is_bad_signature_and_no_readings() -> None:
    b = Bench(KEY, b"\x01" * 32)
    b.run(3.0)
    assert b.readings() == []
    assert set(b.rejected()) == {RejectReason.BAD_SIGNATURE}


def test_unpaired_node_nothing_reaches_readings() -> None:
    b = Bench(KEY, None)
    b.run(3.0)
    assert b.session.state is SessionState.UNPAIRED
    assert b.readings() == [] and set(b.rejected()) == {RejectReason.UNPAIRED}
    keyless = Bench(None, KEY)  # a node never paired sends unsigned HELLOs
    keyless.run(3.0)
    assert keyless.readings() == [] and set(keyless.rejected()) == {RejectReason.UNSIGNED}


def test_replayed_and_forged_frames_rejected_and_counted() -> None:
    b = Bench(KEY, KEY, rate_hz=20, faults=["replay@0.5:1", "badsig@2:1"])
    b.run(3.5)
    rej = b.rejected()
    assert rej.count(RejectReason.REPLAYED) >= 10
    assert rej.count(RejectReason.BAD_SIGNATURE) >= 10
    assert len(b.readings()) > 0
    # the whole recorded stream replayed into a fresh session gives nothing
    fresh = Bench(KEY, KEY)
    fresh.deliver(bytes(b.wire_log))
    assert fresh.readings() == []


def test_out_of_range_values_rejected() -> None:
    b = Bench(KEY, KEY, rate_hz=20, faults=["drift"])  # +0.2 C/s: leaves -40..85 quickly?
    b.node.env.temp_walk = 70.0  # push temperature past the declared 85 C
    b.run(1.0)
    assert RejectReason.OUT_OF_RANGE in b.rejected()
    temps = [r.value for r in b.readings() if r.channel_id == 0]  # type: ignore[attr-defined]
    assert all(t <= 85 for t in temps)


def test_unknown_type_counted_and_ignored() -> None:
    b = Bench(KEY, KEY)
    b.run(0.5)
    b.node.send(0x7E, b"future")
    b.step()
    assert RejectReason.UNKNOWN_TYPE in b.rejected()
    b.run(0.5)
    assert b.session.state is SessionState.ESTABLISHED


def test_replayed_hello_does_not_break_a_live_session() -> None:
    b = Bench(KEY, KEY, rate_hz=10)
    b.run(1.0)
    hello = next(f for f in b.frames if f.msg_type == m.MsgType.HELLO)
    from firmware_bridge.frame import encode_frame
    b.deliver(encode_frame(hello.signed_part, hello.tag))  # attacker replays the HELLO
    n = len(b.readings())
    b.run(1.0)
    assert len(b.readings()) >= n + 4 * 8
    assert RejectReason.BAD_SIGNATURE not in b.rejected()


def test_controller_restart_recovers_via_hello_request() -> None:
    b = Bench(KEY, KEY, rate_hz=10)
    b.run(1.0)
    b.session.reset()  # controller lost its session (restart)
    b.run(2.0)
    assert RejectReason.NO_SESSION in b.rejected()
    n = len(b.readings())
    b.run(1.0)
    assert len(b.readings()) >= n + 4 * 8


def test_reflected_controller_frame_is_wrong_direction() -> None:
    b = Bench(KEY, KEY)
    b.run(0.5)
    sealed = b.session.seal(m.TimeSync(5))
    assert sealed is not None
    b.deliver(sealed)
    assert RejectReason.WRONG_DIRECTION in b.rejected()


def test_fault_spec_parsing() -> None:
    from firmware_bridge.node.sensors import parse_fault
    f = parse_fault("spike@2:3")
    assert (f.kind, f.start_s, f.duration_s) == ("spike", 2.0, 3.0)
    assert not f.active(1.9) and f.active(2.0) and not f.active(5.0)
    for bad in ("bogus", "spike@x:1", "spike@1:0", "spike@-1:2"):
        with pytest.raises(ValueError):
            parse_fault(bad)


def test_stuck_and_dropout_faults_show_on_the_controller() -> None:
    b = Bench(KEY, KEY, rate_hz=20, faults=["stuck@1.5:1", "dropout@3:1"])
    b.run(1.4)
    n_before = len(b.readings())
    b.run(1.0)  # stuck window: every value repeats exactly
    stuck = b.readings()[n_before + 8:]
    temps = {r.value for r in stuck if r.channel_id == 0}  # type: ignore[attr-defined]
    assert len(stuck) >= 20 and len(temps) == 1
    b.run(0.7)
    n_drop = len(b.readings())
    b.run(0.8)  # dropout window: nothing arrives
    assert len(b.readings()) - n_drop <= 4
    b.run(1.0)
    assert len(b.readings()) - n_drop >= 4 * 10  # and readings resume


def test_spike_fault_gives_outliers_inside_the_valid_range() -> None:
    b = Bench(KEY, KEY, rate_hz=50, faults=["spike"])
    b.run(2.0)
    temps = [r.value for r in b.readings() if r.channel_id == 0]  # type: ignore[attr-defined]
    assert max(temps) > 45 and min(temps) < 25
