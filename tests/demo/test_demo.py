"""`edgewarden demo --headless`: the real service on a simulated site, end to end."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from controller.demo_site import DEMO_PASSPHRASE
from controller.store import HistoryReader, unlock_identity

CLI = [sys.executable, "-m", "controller"]


def test_demo_shows_readings_a_fault_alarm_and_leaves_a_verifiable_store(tmp_path: Path) -> None:
    site = tmp_path / "site"
    out = subprocess.run(
        [*CLI, "demo", "--headless", "--seconds", "24", "--data-dir", str(site)],
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
    events = [r for r in records if r.kind == "event"]
    assert events, "the demo camera made no event"
    assert events[0].media
