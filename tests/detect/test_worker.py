"""The camera thread of the service: a recording in, events out in wall-clock time."""

from __future__ import annotations

import time
from pathlib import Path

import cv2

from controller.camera.reconnect import CameraStatus
from controller.config import CameraConfig, DetectConfig
from controller.detect.events import DetectionEvent
from controller.detect.worker import CameraWorker
from tests.detect.test_pipeline import scene


def test_events_reach_the_service_in_wall_clock_time(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, image in enumerate(scene(10, 15, 15)):
        assert cv2.imwrite(str(folder / f"{i:04d}.png"), image)
    camera = CameraConfig(name="yard", source=str(folder), fps=40.0, pre_roll_s=0.2,
                          post_roll_s=0.2, lores_width=80, lores_height=60)
    events: list[DetectionEvent] = []
    statuses: list[CameraStatus] = []
    worker = CameraWorker(camera, DetectConfig(min_hits=2, max_missed_frames=3,
                                               iou_match=0.1), events.append, statuses.append)
    before = time.time()
    worker.start()
    deadline = time.monotonic() + 30
    while not events and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.stop()
    after = time.time()
    assert events, "the crossing box made no event"
    (event,) = events[:1]
    # frame times of a recording start at 0; what reaches the records is wall time
    assert before <= event.start <= event.end <= after
    assert all(before <= p.time <= after for p in event.track)
    assert worker.last_detection is not None
    assert before <= worker.last_detection["time"] <= after


def test_shifting_moves_every_time_of_an_event() -> None:
    from controller.detect.tracker import TrackPoint

    event = DetectionEvent("yard", "all", "motion", 1, 2.0, 5.0, 0.9, 3.0,
                           (TrackPoint(2.0, (0.1, 0.1, 0.2, 0.2), 0.5),
                            TrackPoint(5.0, (0.2, 0.1, 0.3, 0.2), 0.9)))
    moved = event.shifted(100.0)
    assert (moved.start, moved.end, moved.best_time) == (102.0, 105.0, 103.0)
    assert [p.time for p in moved.track] == [102.0, 105.0]
    assert moved.track[1].box == event.track[1].box


def test_the_tui_reads_the_detection_the_service_publishes() -> None:
    from controller.control.schema import to_wire
    from controller.detect.tracker import TrackPoint
    from controller.service.notices import detection_notice
    from tests.tui.scripted_service import base_status
    from tui.live_state import LiveState
    from tui.model import parse_status

    now = time.time()
    event = DetectionEvent("yard", "all", "sedan", 4, now - 5, now - 1, 0.47, now - 2,
                           (TrackPoint(now - 5, (0.1, 0.1, 0.2, 0.2), 0.47),))
    live = LiveState()
    live.apply_status(parse_status(base_status("view")))
    live.apply_event("detection", to_wire(detection_notice(event.notice(), None)))
    seen = next(c for c in live.status.cameras if c.name == "yard").last_detection
    assert seen is not None
    assert (seen.label, seen.score, seen.time) == ("sedan", 0.47, now - 1)
