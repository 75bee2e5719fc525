"""Serial ingest benchmark: decode+verify frames/s on one core vs a saturated 921,600-baud
link, the whole link path per frame the same way, and end-to-end readings/s through a pty
(simulate-node subprocess -> LinkManager). Frames/s are per CPU second (process time), so
a machine shared with other work does not understate them; the wall time is printed too.

Run: uv run python bench/serial_ingest.py
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from firmware_bridge.frame import FrameDecoder
from firmware_bridge.link import LinkManager, PortSpec
from firmware_bridge.messages import ChannelSpec, MsgType, ReadingBatch, ReadingMsg
from firmware_bridge.session import NodeSession, _Session
from firmware_bridge.signing import ReplayWindow, SecretKey, build_signed_frame, session_key

BAUD = 921_600
BITS_PER_BYTE = 10  # 8N1
NODE = bytes.fromhex("E66138935F2A1B01")
UID = NODE.hex().upper()


def decode_verify() -> None:
    key = SecretKey(os.urandom(32))
    nn, sn = b"n" * 16, b"s" * 16
    tag_key = session_key(key, nn, sn)
    chans = {i: ChannelSpec(i, f"c{i}", "u", -1e6, 1e6) for i in range(4)}
    frames = []
    n = 100_000
    for c in range(1, n + 1):
        batch = ReadingBatch(tuple(ReadingMsg(i, 1_700_000_000_000 + c, 20.0 + i)
                                  for i in range(4)))
        frames.append(build_signed_frame(tag_key, NODE, c, MsgType.READING_BATCH,
                                         batch.encode(), False))
    frame_len = len(frames[0])
    stream = b"".join(frames)
    chunks = [stream[i:i + 4096] for i in range(0, len(stream), 4096)]

    session = NodeSession(NODE, key, os.urandom, replay_window=64)
    session._current = _Session(nn, sn, tag_key, chans, "bench", ReplayWindow(64))
    decoder = FrameDecoder()
    accepted = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for chunk in chunks:
        for item in decoder.feed(chunk):
            res = session.handle(item, 0)  # type: ignore[arg-type]
            accepted += len(res.messages)
    wall, elapsed = time.perf_counter() - t0, time.process_time() - c0
    assert accepted == 4 * n, accepted
    fps = n / elapsed
    link_fps = BAUD / BITS_PER_BYTE / frame_len
    print(f"decode+verify: {n} frames of {frame_len} wire bytes (4-reading batch) "
          f"in {elapsed:.2f} s of CPU time on one core ({wall:.2f} s wall)")
    print(f"  {fps:,.0f} frames/s  ({4 * fps:,.0f} readings/s)")
    print(f"  baseline: saturated {BAUD:,}-baud 8N1 link = {link_fps:,.0f} frames/s")
    print(f"  ratio: {fps / link_fps:.1f}x  (target >= 10x)")


def link_ingest() -> None:
    """The whole per-frame path of the link: decode, verify, replay window, rate limit,
    gap/lag tracking and the readings queue (LinkManager.ingest on one port)."""
    from firmware_bridge.link import _Port

    key = SecretKey(os.urandom(32))
    nn, sn = b"n" * 16, b"s" * 16
    tag_key = session_key(key, nn, sn)
    chans = {i: ChannelSpec(i, f"c{i}", "u", -1e6, 1e6) for i in range(4)}
    n = 50_000
    base = 1_700_000_000_000
    frames = [build_signed_frame(tag_key, NODE, c, MsgType.READING_BATCH, ReadingBatch(
        tuple(ReadingMsg(i, base + c, 20.0 + i) for i in range(4))).encode(), False)
        for c in range(1, n + 1)]
    frame_len = len(frames[0])
    stream = b"".join(frames)
    chunks = [stream[i:i + 4096] for i in range(0, len(stream), 4096)]
    link = LinkManager([PortSpec("bench", "bench", max_frames_per_second=1e9)],
                       lambda uid: (key, "bench"), queue_size=10 * n)
    port = _Port(PortSpec("bench", "bench", max_frames_per_second=1e9))
    (frame0,) = FrameDecoder().feed(frames[0])
    node = link._node_for(port, frame0, 0.0)  # type: ignore[arg-type]
    node.session._current = _Session(nn, sn, tag_key, chans, "bench", ReplayWindow(64))
    t0, c0 = time.perf_counter(), time.process_time()
    for i, chunk in enumerate(chunks):
        link.ingest(port, chunk, base / 1000 + i * 0.001, i * 0.001)
    wall, elapsed = time.perf_counter() - t0, time.process_time() - c0
    assert link.readings.qsize() == 4 * n, link.readings.qsize()
    fps = n / elapsed
    link_fps = BAUD / BITS_PER_BYTE / frame_len
    print(f"link ingest (decode, verify, window, rate limit, gap/lag, queue): {n} frames "
          f"in {elapsed:.2f} s of CPU time ({wall:.2f} s wall: a shared machine waits)")
    print(f"  {fps:,.0f} frames/s  ({4 * fps:,.0f} readings/s)")
    print(f"  baseline: saturated {BAUD:,}-baud 8N1 link = {link_fps:,.0f} frames/s")
    print(f"  ratio: {fps / link_fps:.1f}x  (target >= 10x)")


async def _end_to_end(port: str, key: SecretKey, seconds: float) -> tuple[int, float]:
    link = LinkManager([PortSpec(port, "bench", max_frames_per_second=100_000)],
                       lambda uid: (key, "bench"), queue_size=1_000_000)
    task = asyncio.create_task(link.run())
    count = 0
    # wait for the session, then count for `seconds`
    await link.readings.get()
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        try:
            await asyncio.wait_for(link.readings.get(), 0.5)
            count += 1
        except TimeoutError:
            pass
    elapsed = time.monotonic() - t0
    link.stop()
    await task
    return count, elapsed


def end_to_end(seconds: float = 8.0) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.urandom(32)
        kf = Path(tmp) / "node.key"
        fd = os.open(kf, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, raw)
        os.close(fd)
        proc = subprocess.Popen(
            [sys.executable, "-m", "controller", "simulate-node", "--pty", "--uid", UID,
             "--key-file", str(kf), "--rate", "2000"], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        try:
            count, elapsed = asyncio.run(_end_to_end(port, SecretKey(raw), seconds))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
    print(f"end to end through a pty (reference firmware under CPython at 2000 Hz, "
          f"4 channels): {count / elapsed:,.0f} readings/s over {elapsed:.1f} s")
    print("  (bounded by the simulated node's own speed, not by the controller)")


if __name__ == "__main__":
    decode_verify()
    link_ingest()
    end_to_end()
