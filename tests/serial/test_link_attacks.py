"""Attacks on the serial link (issue 14): the real firmware on ptys, an attacker's relay or
forger on the cable, the real LinkManager. Loss, delay, lock-out and starvation must show."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from controller.simulation.node import PtyNode, SimNodeOptions
from firmware_bridge.link import LinkManager, NodeStats, PortSpec
from firmware_bridge.messages import MsgType
from firmware_bridge.reading import Reading
from firmware_bridge.signing import SecretKey, build_signed_frame, build_unsigned_frame

from .attacker import GapHider, Relay, carries_door_open

UID = "E66138935F2A1B01"


def _node(tmp: Path, rate_hz: float) -> tuple[PtyNode, bytes]:
    raw = os.urandom(32)
    (tmp / "node.key").write_bytes(raw)
    return PtyNode(SimNodeOptions(uid=UID, rate_hz=rate_hz, key_file=tmp / "node.key")), raw


def _run_link(path: str, raw: bytes, seconds: float,
              during: Callable[[LinkManager], None] | None = None,
              ) -> tuple[list[Reading], NodeStats, LinkManager]:
    """Serve `path` for `seconds`; `during` runs on the loop right after the start."""

    async def scenario() -> LinkManager:
        link = LinkManager([PortSpec(path, "door")],
                           lambda uid: (SecretKey(raw), "door") if uid == UID else None,
                           queue_size=100_000)
        task = asyncio.create_task(link.run())
        await asyncio.sleep(0.05)
        if during is not None:
            during(link)
        await asyncio.sleep(seconds)
        link.stop()
        await task
        return link

    link = asyncio.run(scenario())
    readings = []
    while not link.readings.empty():
        readings.append(link.readings.get_nowait())
    (st,) = [s for s in link.node_stats() if s.uid == UID]
    return readings, st, link


def test_relay_dropping_every_door_open_frame_leaves_a_counted_gap(tmp_path: Path) -> None:
    node, raw = _node(tmp_path, rate_hz=4.0)
    node.node.env.next_door_s = 1.5  # the door opens 1.5 s after boot, for 5 s
    relay = Relay(node.path, drop=carries_door_open).start()
    node.start()
    try:
        readings, st, _ = _run_link(relay.path, raw, 7.0)
    finally:
        node.stop()
        relay.stop()
    assert relay.dropped >= 10  # the attack worked: the door was open, no frame said so
    assert not [r for r in readings if r.channel == "door" and r.value >= 0.5]
    assert st.lost_frames == relay.dropped
    assert st.lost_frames_window == relay.dropped
    assert any("lost" in p for p in st.link_problems)


def test_a_gap_hidden_behind_a_forced_new_session_is_still_counted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The relay drops the door frames and everything after them until the node, told by
    a forged HELLO_REQUEST, starts a new session: no counter gap shows. The node's STATUS
    (frames sent, across sessions) does."""
    from firmware_bridge.node import firmware

    monkeypatch.setattr(firmware, "STATUS_MS", 2000)  # STATUS every 2 s, not 10 s
    node, raw = _node(tmp_path, rate_hz=4.0)
    node.node.env.next_door_s = 3.0
    hider = GapHider()
    relay = Relay(node.path, drop=hider).start()
    hider.relay = relay
    node.start()
    try:
        readings, st, _ = _run_link(relay.path, raw, 13.0)
    finally:
        node.stop()
        relay.stop()
    assert hider.rehandshakes >= 1 and relay.dropped >= 4  # the attack ran
    assert not [r for r in readings if r.channel == "door" and r.value >= 0.5]
    assert st.lost_frames >= relay.dropped - 8  # all but the last STATUS interval's
    assert any("lost" in p for p in st.link_problems)


def test_relay_holding_every_frame_back_5s_is_flagged_late(tmp_path: Path) -> None:
    node, raw = _node(tmp_path, rate_hz=4.0)
    relay = Relay(node.path, hold_s=5.0).start()
    node.start()
    try:
        readings, st, _ = _run_link(relay.path, raw, 13.0)
    finally:
        node.stop()
        relay.stop()
    assert readings  # everything authentic, all accepted ...
    lags = [r.received_wall * 1000 - r.node_time_ms for r in readings]
    assert min(lags) >= 4500
    assert st.lag_ms is not None and st.lag_ms >= 4500  # ... and flagged
    assert any("late" in p for p in st.link_problems)


def test_an_honest_link_has_no_gap_no_lag_and_no_problem(tmp_path: Path) -> None:
    node, raw = _node(tmp_path, rate_hz=4.0)
    node.start()
    try:
        readings, st, _ = _run_link(node.path, raw, 3.0)
    finally:
        node.stop()
    assert readings and st.state == "online"
    assert st.lost_frames == 0 and st.link_problems == []
    assert st.lag_ms is not None and st.lag_ms < 2000


def test_a_controller_stalled_during_the_handshake_recovers(tmp_path: Path) -> None:
    """The node says HELLO every second; a controller that stalls 2.5 s finds three
    copies queued and must answer them so that the node's session is its own."""
    node, raw = _node(tmp_path, rate_hz=4.0)
    stalled: list[float] = []

    def stall(link: LinkManager) -> None:
        node.start()
        time.sleep(2.5)  # the whole loop stops: no port is read
        stalled.append(time.monotonic())

    try:
        readings, st, _ = _run_link(node.path, raw, 3.0, during=stall)
    finally:
        node.stop()
    after = [r for r in readings if r.received_mono > stalled[0]]
    assert st.rejected["bad_signature"] == 0, st.rejected
    assert st.state == "online"
    # readings flow from the first heartbeat after the stall: the first HELLO's session
    assert len(after) >= 4 * 4


def test_invented_uids_do_not_lock_out_the_paired_node(tmp_path: Path) -> None:
    node, raw = _node(tmp_path, rate_hz=4.0)  # not started yet: the forger comes first
    relay = Relay(node.path).start()

    def forge(link: LinkManager) -> None:
        for _ in range(200):
            relay.inject(build_unsigned_frame(os.urandom(8), 0, MsgType.HELLO, b"x" * 20,
                                              from_controller=False))
        threading.Timer(0.5, node.start).start()

    try:
        readings, st, link = _run_link(relay.path, raw, 3.0, during=forge)
    finally:
        node.stop()
        relay.stop()
    assert st.state == "online" and readings
    unpaired = [s for s in link.node_stats() if s.state == "unpaired"]
    assert 0 < len(unpaired) <= 16  # invented uids are listed, within a bound


def test_forged_flood_under_the_victims_uid_does_not_starve_it(tmp_path: Path) -> None:
    node, raw = _node(tmp_path, rate_hz=20.0)
    relay = Relay(node.path).start()
    node.start()
    stop = threading.Event()
    forged_key = os.urandom(32)

    def flood() -> None:  # 400 frames/s signed with a key that is not the node's
        counter = 1
        while not stop.is_set():
            for _ in range(40):
                counter += 1
                relay.inject(build_signed_frame(forged_key, bytes.fromhex(UID), counter,
                                                MsgType.HEARTBEAT, bytes(12),
                                                from_controller=False))
            time.sleep(0.1)

    def start_flood(link: LinkManager) -> None:
        threading.Thread(target=flood, daemon=True).start()

    try:
        _readings, st, _ = _run_link(relay.path, raw, 4.0, during=start_flood)
        frames_sent = node.node.frames_sent
    finally:
        stop.set()
        node.stop()
        relay.stop()
    assert st.rejected["bad_signature"] >= 400
    assert st.rejected["rate_limited"] == 0
    assert st.lost_frames == 0
    # every frame the node sent arrived (its last few may still be in the pty)
    assert st.frames_ok >= frames_sent - 10
    assert st.state == "under_attack"
    assert any("forged" in p for p in st.link_problems)


def test_a_drifted_node_clock_is_resynced_so_lag_measures_the_link(tmp_path: Path) -> None:
    node, raw = _node(tmp_path, rate_hz=4.0)
    node.start()

    async def scenario() -> list[Reading]:
        link = LinkManager([PortSpec(node.path, "door")],
                           lambda uid: (SecretKey(raw), "door"), queue_size=100_000,
                           time_sync_interval_s=1.0)
        task = asyncio.create_task(link.run())
        while link.readings.empty():
            await asyncio.sleep(0.05)
        node.node.time_base -= 5000  # the node's crystal lost 5 s
        await asyncio.sleep(3.0)
        link.stop()
        await task
        out = []
        while not link.readings.empty():
            out.append(link.readings.get_nowait())
        return out

    try:
        readings = asyncio.run(scenario())
    finally:
        node.stop()
    lags = [r.received_wall * 1000 - r.node_time_ms for r in readings]
    assert max(lags) >= 4500  # the drift showed ...
    assert lags[-1] < 1000  # ... until the next TIME_SYNC set the clock again
