"""The pipeline on a drawn scene: motion-only events, masks, snapshot and clip."""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from controller.camera.clip import FrameClipRecorder
from controller.camera.frame import Frame
from controller.config import CameraConfig, DetectConfig
from controller.detect.events import ListSink
from controller.detect.pipeline import DetectionPipeline

FPS = 10.0


def scene(n_still: int, n_moving: int, n_after: int) -> list[np.ndarray]:
    """A grey yard; a white box crosses it from left to right, then nothing moves."""
    frames = []
    for i in range(n_still + n_moving + n_after):
        image = np.full((120, 160, 3), 80, np.uint8)
        step = min(max(i - n_still, 0), n_moving - 1)
        x = 10 + step * 6
        cv2.rectangle(image, (x, 60), (x + 20, 90), (255, 255, 255), -1)
        frames.append(image)
    return frames


def run(camera: CameraConfig, images: list[np.ndarray], recorder: bool = True):
    sink = ListSink()
    clip = FrameClipRecorder(camera.pre_roll_s, FPS) if recorder else None
    pipeline = DetectionPipeline(camera, DetectConfig(min_hits=2, max_missed_frames=3,
                                                      iou_match=0.1), None, sink, clip)
    results = [pipeline.process(Frame(i, i / FPS, img)) for i, img in enumerate(images)]
    pipeline.finish()
    return sink.events, results, pipeline


def test_one_motion_event_with_snapshot_and_clip_with_pre_and_post_roll() -> None:
    camera = CameraConfig(name="yard", source="test", pre_roll_s=1.0, post_roll_s=1.0,
                          lores_width=80, lores_height=60)
    events, results, pipeline = run(camera, scene(30, 15, 30))
    assert len(events) == 1
    (event,) = events
    assert event.label == "motion" and event.camera == "yard"
    assert 3.0 <= event.start <= 3.3
    assert event.snapshot_jpeg is not None and event.snapshot_jpeg[:2] == b"\xff\xd8"
    assert event.clip and event.clip_format == "mp4"
    assert b"ftyp" in event.clip[:64]
    # detector gated: it runs around the motion only, not on the still frames
    assert not any(r.detected for r in results[:30])
    assert pipeline.stats.detector_runs < len(results) / 2


def test_privacy_mask_hides_motion_and_media() -> None:
    everything = [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]]
    camera = CameraConfig(name="yard", source="test", privacy_masks=everything,
                          lores_width=80, lores_height=60)
    events, results, _ = run(camera, scene(5, 15, 5))
    assert events == [] and not any(r.motion for r in results)


def test_zone_limits_events() -> None:
    right_edge = {"gate": [[0.95, 0.0], [1.0, 0.0], [1.0, 1.0], [0.95, 1.0]]}
    camera = CameraConfig(name="yard", source="test", zones=right_edge,
                          lores_width=80, lores_height=60)
    events, _, _ = run(camera, scene(5, 15, 5), recorder=False)
    assert events == []


def test_event_repr_keeps_media_out_of_logs() -> None:
    camera = CameraConfig(name="yard", source="test", lores_width=80, lores_height=60)
    (event,), _, _ = run(camera, scene(5, 15, 20))
    assert "snapshot_bytes" in repr(event) and "\\xff" not in repr(event)


def busy_scene(n: int) -> list[np.ndarray]:
    """A white box that never stops: it walks back and forth across the yard."""
    frames = []
    for i in range(n):
        image = np.full((120, 160, 3), 80, np.uint8)
        phase = i % 40
        x = 10 + 6 * (phase if phase < 20 else 39 - phase)
        cv2.rectangle(image, (x, 60), (x + 20, 90), (255, 255, 255), -1)
        frames.append(image)
    return frames


def test_an_object_that_never_leaves_is_recorded_in_bounded_events() -> None:
    camera = CameraConfig(name="yard", source="test", pre_roll_s=1.0, post_roll_s=1.0,
                          max_event_s=5.0, lores_width=80, lores_height=60)
    sink = ListSink()
    pipeline = DetectionPipeline(camera, DetectConfig(min_hits=2, max_missed_frames=3,
                                                      iou_match=0.1), None, sink,
                                 FrameClipRecorder(camera.pre_roll_s, FPS))
    seen_while_busy = 0
    for i, img in enumerate(busy_scene(200)):  # 20 s of motion
        pipeline.process(Frame(i, i / FPS, img))
        if i == 150:
            seen_while_busy = len(sink.events)
    assert seen_while_busy >= 2  # recorded while the object is still there
    pipeline.finish()
    events = sink.events
    cut = [e for e in events if e.continues]
    assert len(cut) >= 3
    for event in events:
        assert event.end - event.start <= 5.0 + 3 / FPS  # plus the frames to confirm
        assert event.clip and b"ftyp" in event.clip[:64]
        assert event.snapshot_jpeg is not None
    # the pieces of one object follow each other without a gap
    by_track = sorted((e for e in events if e.track_id == events[0].track_id),
                      key=lambda e: e.start)
    for before, after in itertools.pairwise(by_track):
        assert before.continues and after.continued
        assert after.start == before.end


def test_without_a_limit_a_busy_scene_keeps_its_event_open() -> None:
    camera = CameraConfig(name="yard", source="test", max_event_s=0.0,
                          lores_width=80, lores_height=60)
    events, _, _ = run(camera, busy_scene(200))
    assert len(events) == 1 and not events[0].continues  # only released at the end
