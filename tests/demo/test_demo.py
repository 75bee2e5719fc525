"""`edgewarden demo --headless`: the real service on a simulated site, end to end."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.simulation.site import DEMO_PASSPHRASE, GATE_VEHICLES
from controller.store import HistoryReader, unlock_identity
from tests.tui.test_tmux import capture, wait_for

CLI = [sys.executable, "-m", "controller"]


def test_demo_shows_readings_a_fault_alarm_and_leaves_a_verifiable_store(tmp_path: Path) -> None:
    site = tmp_path / "site"
    out = subprocess.run(
        # the spike (from 12 s of node time) hits one reading in five at 2 Hz: 32 s leaves
        # margin for a slow start (24 s once stopped before the first spiked reading)
        [*CLI, "demo", "--headless", "--seconds", "32", "--data-dir", str(site)],
        capture_output=True, text=True, timeout=180,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "north-door" in text and "online" in text
    assert DEMO_PASSPHRASE in text
    # the spike injected at 12 s raised the temperature alarm
    assert "north-door/temperature" in text
    assert "stopped cleanly" in text

    key = re.search(r"(ewvk1-[a-z0-9-]+)", text.replace("\n", ""))
    assert key, text
    verify = subprocess.run(
        [*CLI, "verify", "--data-dir", str(site / "data"), "--verification-key", key.group(1)],
        capture_output=True, text=True, timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr

    identity = unlock_identity(site / "data", DEMO_PASSPHRASE)
    with HistoryReader(site / "data", identity) as reader:
        records = list(reader.records())
    kinds = {r.kind for r in records}
    assert {"reading", "alarm", "audit", "health"} <= kinds
    raised = [r for r in records if r.kind == "alarm" and r.body["event"] == "raise"]
    assert any(r.body["channel"] == "north-door/temperature" for r in raised)
    # the camera plays its video: motion makes at least one event with encrypted media
    # (an event is a start record, then an end record with its snapshot and segments)
    events = [r for r in records if r.kind == "event" and r.body.get("phase") == "end"]
    assert events, "the demo camera made no event"
    assert events[0].media
    assert any(r.kind == "recording" and r.media for r in records)


def test_the_demo_gate_reads_its_plates_into_the_store_and_raises_the_watch_alarm(
        tmp_path: Path) -> None:
    site = tmp_path / "site"
    out = subprocess.run(
        [*CLI, "demo", "--headless", "--seconds", "25", "--data-dir", str(site)],
        capture_output=True, text=True, timeout=180, env={**os.environ, "COLUMNS": "250"},
    )
    assert out.returncode == 0, out.stderr
    assert "camera 'gate' reads plates" in out.stdout
    assert re.search(r"gate: up, \d+ frames.*, [1-9]\d* plate reads?", out.stdout), \
        out.stdout[-3000:]
    identity = unlock_identity(site / "data", DEMO_PASSPHRASE)
    with HistoryReader(site / "data", identity) as reader:
        records = list(reader.records())
    reads = {(r.body["text"], r.body["list"]) for r in records if r.kind == "plate"}
    wanted = {(plate.replace("-", ""), lst) for plate, lst, *_ in GATE_VEHICLES}
    # the first loop of the gate's vehicles (about 13 s) fits in the demo's 25 s
    assert wanted <= reads, reads
    plate_media = [r.media for r in records if r.kind == "plate"]
    assert all(len(m) == 2 for m in plate_media)  # the plate crop and the vehicle snapshot
    raised = [r.body["channel"] for r in records
              if r.kind == "alarm" and r.body["event"] == "raise"]
    assert "camera/gate/plates/watch/high" in raised
    assert not any("plates/allow" in c or "plates/unknown" in c for c in raised)
    # the plate text lives only inside encrypted bodies
    for path in (site / "data").rglob("*.db*"):
        assert b"KJA407XY" not in path.read_bytes()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_demo_tui_screen_is_not_torn_by_service_log_lines(tmp_path: Path) -> None:
    """The demo's TUI owns the terminal: the service's warnings go to the site's log."""
    site = tmp_path / "site"
    done = tmp_path / "exit"
    session = f"ewdemo-{os.getpid()}"
    edgewarden = Path(sys.executable).parent / "edgewarden"
    command = (f"{edgewarden} demo --seconds 32 --no-camera --data-dir {site}; "
               f"echo $? > {done}")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30",
                    "-e", "TERM=xterm-256color", command], check=True)
    try:
        # the spike injected at 12 s raises an alarm: its service log line is a WARNING
        screen = wait_for(session, "Sensor nodes", "north-door/temperature", timeout=60)
        time.sleep(1.0)
        screen = capture(session)
        assert "WARNING" not in screen and "->" not in screen, screen
        deadline = time.monotonic() + 90
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.3)
        assert done.read_text().strip() == "0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True,
                       check=False)
    log = site / "service.log"
    assert "north-door/temperature" in log.read_text()
    assert log.stat().st_mode & 0o777 == 0o600
