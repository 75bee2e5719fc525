"""Live events through a real `edgewarden run`: a control-socket subscriber sees an event
start, go on and end as one stream, status shows it while it lasts, and the records hold
its start and its end (naming the segments of its pre- and post-roll)."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pyrage

from controller.control.client import ControlClient
from controller.store import HistoryReader, initialise
from tests.service_run.service_process import running_service

FPS = 10.0


def write_video(path: Path) -> None:
    """8 s still, 5 s of a box crossing the yard, 12 s still (then it loops)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (320, 240))
    for i in range(250):
        image = np.full((240, 320, 3), 70, np.uint8)
        step = min(max(i - 80, 0), 50)
        cv2.rectangle(image, (10 + step * 5, 100), (50 + step * 5, 150), (255, 255, 255), -1)
        writer.write(image)
    writer.release()


def test_an_event_is_live_from_start_to_end_and_recorded(tmp_path: Path) -> None:
    identity = pyrage.x25519.Identity.generate()
    initialise(tmp_path / "data", passphrase=None, identity_on_device=False,
               extra_recipients=[str(identity.to_public())])
    video = tmp_path / "yard.mp4"
    write_video(video)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"""
[device]
name = "live-test"
data_dir = "{tmp_path / 'data'}"
runtime_dir = "{tmp_path / 'run'}"

[store]
commit_interval_ms = 20

[[cameras]]
name = "yard"
source = "{video}"
loop = true
fps = {FPS}
width = 320
height = 240
pre_roll_s = 1.0
post_roll_s = 1.0
segment_s = 2.0
lores_width = 160
lores_height = 120
""")
    with running_service(cfg, tmp_path) as sock, ControlClient(sock) as client:
        client.subscribe(["detection"])
        phases: dict[str, list[str]] = {}
        seen_live_in_status = False
        ended: str | None = None
        deadline = time.monotonic() + 60
        while ended is None and time.monotonic() < deadline:
            for event in client.events(timeout=1.0):
                data = event.data
                phases.setdefault(data["event_id"], []).append(data["phase"])
                if data["phase"] in ("start", "update") and not seen_live_in_status:
                    status = client.call("status")
                    last = status["cameras"][0]["last_detection"]
                    # the dashboard's "last detection" is the event going on now
                    seen_live_in_status = (last is not None and last["phase"] != "end"
                                           and last["event_id"] == data["event_id"])
                if data["phase"] == "end" and phases[data["event_id"]][0] == "start":
                    ended = data["event_id"]
                    break
        assert ended is not None, (phases, (tmp_path / "service.log").read_text())
        stream = phases[ended]
        assert stream[0] == "start" and stream[-1] == "end"
        assert "update" in stream  # the box crosses for 5 s: updated while it lasts
        assert seen_live_in_status
        time.sleep(6.0)  # the post-roll and the segment holding it are recorded
        media = client.call("status")["cameras"][0]["media"]
        assert media["stored_bytes"] > 0 and media["budget_from"] == "disk"
        assert media["days_held"] is not None and media["days_held"] > 0
    with HistoryReader(tmp_path / "data", identity) as history:
        records = [r for r in history.records(kinds=["event"])
                   if r.body.get("event_id") == ended]
    assert [r.body["phase"] for r in records] == ["start", "end"]
    end = records[-1]
    assert end.body["segments"] and end.body["recorded_from"] <= end.body["start"] - 1.0
    assert {m.sha256 for m in end.media} >= set(end.body["segments"])
