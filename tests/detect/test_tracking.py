"""Tracker, events, zones, masks, motion gate and clip schedule as pure functions."""

from __future__ import annotations

import numpy as np
import pytest

from controller.camera.masks import PrivacyMask, polygon
from controller.detect.detection import Detection
from controller.detect.events import ClipSchedule, EventBuilder
from controller.detect.motion import DetectorGate, MotionDetector, MotionParams
from controller.detect.regions import EVERYWHERE, Zones, contains
from controller.detect.tracker import IouTracker
from controller.errors import UsageError


def car(x: float, score: float = 0.6, label: str = "car") -> Detection:
    return Detection(label, score, (x, 0.5, x + 0.2, 0.7))


def test_tracker_keeps_ids_while_objects_move_and_expires_missing_ones() -> None:
    tracker = IouTracker(iou_match=0.3, max_missed=2, min_hits=2)
    first = tracker.update([car(0.1), car(0.6)], 0.0)
    assert first.active == []  # not confirmed yet
    second = tracker.update([car(0.62), car(0.12)], 0.1)
    assert sorted(t.track_id for t in second.active) == [1, 2]
    for i in range(3):
        update = tracker.update([car(0.64 + 0.02 * i)], 0.2 + 0.1 * i)
    assert [t.track_id for t in update.active] == [2]
    assert [t.track_id for t in update.ended] == [1]


def test_unconfirmed_flicker_never_ends_as_a_track() -> None:
    tracker = IouTracker(max_missed=0, min_hits=3)
    tracker.update([car(0.1)], 0.0)
    assert tracker.update([], 0.1).ended == []


def test_track_label_is_the_best_summed_score() -> None:
    tracker = IouTracker(min_hits=1)
    tracker.update([car(0.1, 0.4, "sedan")], 0)
    tracker.update([car(0.1, 0.3, "pickup")], 1)
    tracker.update([car(0.1, 0.3, "pickup")], 2)
    (track,) = tracker.tracks
    assert track.label == "pickup"


def test_one_object_makes_one_event_not_one_per_frame() -> None:
    tracker = IouTracker(max_missed=1, min_hits=2)
    events = EventBuilder("gate", Zones({}))
    ended = []
    scores = [0.4, 0.5, 0.9, 0.6, 0.5]
    for i, s in enumerate(scores):
        ended += events.update(tracker.update([car(0.1 + 0.02 * i, s)], float(i)), float(i))
    for i in range(5, 8):
        ended += events.update(tracker.update([], float(i)), float(i))
    (event,) = ended
    assert (event.camera, event.zone, event.label) == ("gate", EVERYWHERE, "car")
    assert (event.start, event.end, event.best_score, event.best_time) == (0.0, 4.0, 0.9, 2.0)
    assert len(event.track) == 5


def test_events_only_for_objects_standing_in_a_zone() -> None:
    zones = Zones.from_config({"drive": [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]})
    tracker = IouTracker(max_missed=0, min_hits=1)
    events = EventBuilder("cam", zones)
    events.update(tracker.update([car(0.1), car(0.7)], 0.0), 0.0)
    ended = events.update(tracker.update([], 1.0), 1.0)
    assert [(e.zone, e.track[0].box[0]) for e in ended] == [("drive", 0.1)]


def test_polygons_and_validation() -> None:
    tri = polygon([[0, 0], [1, 0], [0, 1]], "zone a")
    assert contains(tri, 0.2, 0.2) and not contains(tri, 0.8, 0.8)
    with pytest.raises(UsageError, match="zone a: a polygon needs at least 3"):
        polygon([[0, 0], [1, 1]], "zone a")
    with pytest.raises(UsageError, match=r"outside 0\.\.1"):
        polygon([[0, 0], [2, 0], [0, 1]], "mask 0")


def test_privacy_mask_blacks_out_only_the_polygon() -> None:
    mask = PrivacyMask.from_config([[[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]])
    frame = np.full((10, 20, 3), 200, np.uint8)
    out = mask.apply(frame)
    assert out[:, :9].max() == 0 and out[:, 11:].min() == 200
    assert frame.min() == 200  # the caller's frame is untouched


def moving_square(x: int) -> np.ndarray:
    grey = np.full((60, 80), 90, np.uint8)
    grey[20:35, x : x + 15] = 230
    return grey


def test_motion_seen_on_change_and_not_on_a_still_scene() -> None:
    motion = MotionDetector(MotionParams.from_sensitivity(0.5))
    assert not motion.observe(moving_square(10)).moving  # first frame: nothing to compare
    assert not motion.observe(moving_square(10)).moving
    result = motion.observe(moving_square(20))
    assert result.moving and result.box is not None
    assert result.box[0] == pytest.approx(10 / 80, abs=0.05)


def test_motion_inside_a_mask_does_not_count() -> None:
    mask = PrivacyMask.from_config([[[0.0, 0.0], [0.6, 0.0], [0.6, 1.0], [0.0, 1.0]]])
    motion = MotionDetector(MotionParams.from_sensitivity(1.0), mask.raster(80, 60))
    motion.observe(moving_square(5))
    assert not motion.observe(moving_square(15)).moving
    assert motion.observe(moving_square(60)).moving


def test_sensitivity_orders_thresholds() -> None:
    low, high = MotionParams.from_sensitivity(0.0), MotionParams.from_sensitivity(1.0)
    assert high.pixel_threshold < low.pixel_threshold
    assert high.area_fraction < low.area_fraction


def test_gate_holds_after_motion_and_follows_moving_tracks() -> None:
    gate = DetectorGate(hold_s=1.0)
    assert not gate.decide(False, False, 0.0)
    assert gate.decide(True, False, 1.0)
    assert gate.decide(False, False, 1.9)
    assert gate.decide(False, True, 3.0)  # motion too slow for the gate, track still moving
    assert not gate.decide(False, False, 3.1)
    assert not gate.decide(False, True, 3.2)  # a closed gate does not reopen on old tracks
    assert DetectorGate(enabled=False).decide(False, False, 0.0)


def test_clip_schedule_post_roll() -> None:
    schedule = ClipSchedule(post_roll_s=2.0)
    assert schedule.step(0, 0.0) is None
    assert schedule.step(1, 1.0) == "start"
    assert schedule.step(1, 2.0) is None
    assert schedule.step(0, 3.0) is None
    assert schedule.step(1, 4.0) is None  # a new event during post-roll keeps recording
    assert schedule.step(0, 5.0) is None
    assert schedule.step(0, 6.9) is None
    assert schedule.step(0, 7.0) == "stop"


def test_clip_schedule_cuts_a_long_clip_while_events_stay_open() -> None:
    schedule = ClipSchedule(post_roll_s=1.0, max_clip_s=10.0)
    assert schedule.step(1, 0.0) == "start"
    assert schedule.step(1, 9.9) is None
    assert schedule.step(1, 10.0) == "cut"
    assert schedule.step(1, 19.9) is None
    assert schedule.step(1, 20.0) == "cut"
    assert schedule.step(0, 21.0) is None
    assert schedule.step(0, 22.0) == "stop"
    assert ClipSchedule(post_roll_s=1.0).step(1, 0.0) == "start"
