"""Segments written once: overlapping events share segments, stored and exported once, and
the pre- and post-roll of every event plays from the exported, decrypted segments."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyrage
import pytest

from controller.camera.frame import Frame
from controller.camera.recording import SegmentRecorder
from controller.camera.segment_keeper import SegmentKeeper
from controller.camera.segments import OpenCvSegmentEncoder, PyAvSegmentEncoder
from controller.config import CameraConfig, DetectConfig, StoreConfig
from controller.control.schema import DetectionNotice, decode_event
from controller.detect.detection import Detection
from controller.detect.pipeline import DetectionPipeline
from controller.evidence import Selection, export_bundle, verify_bundle
from controller.service.camera_records import CameraRecords
from controller.store import HistoryReader, RecordWriter
from controller.store.layout import StoreLayout
from tests.store.conftest import Store, make_store

FPS = 10.0
PRE, POST = 1.0, 1.5
A = (0.1, 0.2, 0.3, 0.5)
B = (0.6, 0.2, 0.8, 0.5)


class ScriptedDetector:
    """Two objects: A in frames 40..79, B in frames 60..109 (their events overlap)."""

    family = "scripted"

    def __init__(self) -> None:
        self.frame = -1

    def reset_state(self) -> None:
        pass

    def detect(self, image: np.ndarray) -> list[Detection]:
        self.frame += 1
        out = []
        if 40 <= self.frame < 80:
            out.append(Detection("car", 0.9, A))
        if 60 <= self.frame < 110:
            out.append(Detection("truck", 0.8, B))
        return out


def scene(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    background = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    frames = []
    for i in range(n):
        image = background.copy()
        x = 10 + (i % 60)
        cv2.rectangle(image, (x, 30), (x + 16, 50), (255, 255, 255), -1)
        frames.append(image)
    return frames


def count_frames(data: bytes) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "segment.mp4"
        path.write_bytes(data)
        cap = cv2.VideoCapture(str(path))
        n = 0
        while cap.read()[0]:
            n += 1
        cap.release()
        return n


ENCODERS = {"libx264": PyAvSegmentEncoder, "mp4v": OpenCvSegmentEncoder}


def record_scene(store: Store, mode: str = "events", n: int = 200,
                 encoder: str = "libx264") -> tuple[Any, list[Any]]:
    cfg = StoreConfig(commit_interval_ms=5, reserved_space_mb=1, shed_margin_mb=1)
    writer = RecordWriter.open(store.data_dir, cfg)
    published: list[Any] = []
    records = CameraRecords(writer, lambda kind, data: published.append((kind, data)),
                            lambda: None)
    camera = CameraConfig(name="gate", source="test", pre_roll_s=PRE, post_roll_s=POST,
                          lores_width=64, lores_height=48, fps=FPS)
    recorder = SegmentRecorder("gate", ENCODERS[encoder](2.0, FPS),
                               SegmentKeeper(mode, PRE, POST), records)  # type: ignore[arg-type]
    pipeline = DetectionPipeline(
        camera, DetectConfig(min_hits=2, max_missed_frames=2, motion_gate=False),
        ScriptedDetector(), records, segments=recorder)  # type: ignore[arg-type]
    for i, image in enumerate(scene(n)):
        pipeline.process(Frame(i, 1000.0 + i / FPS, image))
    pipeline.finish()
    assert writer.flush(30)
    writer.close()
    return recorder, published


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return make_store(tmp_path)


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_overlapping_events_share_segments_stored_and_exported_once(
        store: Store, tmp_path: Path, encoder: str) -> None:
    recorder, published = record_scene(store, encoder=encoder)
    with HistoryReader(store.data_dir, store.identity) as history:
        segments = list(history.records(kinds=["recording"]))
        events = list(history.records(kinds=["event"]))
    starts = [e for e in events if e.body["phase"] == "start"]
    ends = [e for e in events if e.body["phase"] == "end"]
    assert sorted(e.body["label"] for e in starts) == ["car", "truck"]
    assert sorted(e.body["label"] for e in ends) == ["car", "truck"]
    car, truck = sorted(ends, key=lambda e: e.body["label"])
    car_segs = [m.sha256 for m in car.media if m.content_type == "video/mp4"]
    truck_segs = [m.sha256 for m in truck.media if m.content_type == "video/mp4"]
    shared = set(car_segs) & set(truck_segs)
    assert shared, "overlapping events name the same segments"
    # events mode: only segments around the events (4 s to 11 s + post-roll) were kept;
    # the 20 s scene made 10 segments
    assert recorder.stats.segments_encoded == 10
    stored = [s.media[0].sha256 for s in segments]
    assert len(stored) == len(set(stored)) == recorder.stats.segments_stored < 10
    assert set(car_segs) | set(truck_segs) <= set(stored)
    media_dir = StoreLayout(store.data_dir).media_dir
    assert len(list(media_dir.glob("*.age"))) == len(stored) + 2  # + two snapshots

    # each event covers its time with pre- and post-roll
    for event in (car, truck):
        body = event.body
        assert body["recorded_from"] <= body["start"] - PRE
        assert body["recorded_to"] >= body["end"] + POST

    stick = tmp_path / "stick"
    stick.mkdir()
    result = export_bundle(store.data_dir, stick, Selection(kinds=("event",)), now=2000.0)
    exported = {p.name.removesuffix(".age") for p in (result.path / "data/media").iterdir()}
    assert exported == set(car_segs) | set(truck_segs) | {
        m.sha256 for e in ends for m in e.media if m.content_type == "image/jpeg"}
    report = verify_bundle(result.path, identity=store.identity, seed=store.seed)
    assert report.ok, report.problems
    assert report.media_decrypted == len(exported)

    # every event's pre- and post-roll plays from the exported segments
    for event in (car, truck):
        shas = [m.sha256 for m in event.media if m.content_type == "video/mp4"]
        frames = 0
        for sha in shas:
            ct = (result.path / f"data/media/{sha}.age").read_bytes()
            frames += count_frames(bytes(pyrage.decrypt(ct, [store.identity])))
        wanted = (event.body["end"] - event.body["start"] + PRE + POST) * FPS
        assert frames >= wanted

    # the live stream: start, updates, end, for each event, with the records' event_id
    phases = [(d["label"], d["phase"], d["event_id"]) for kind, d in published
              if kind == "detection"]
    for event in (car, truck):
        mine = [(p, i) for lab, p, i in phases if lab == event.body["label"]]
        assert mine[0][0] == "start" and mine[-1][0] == "end"
        assert {p for p, _ in mine[1:-1]} == {"update"}
        assert {i for _, i in mine} == {event.body["event_id"]}
    # each notice is the schema's; a start names its durable record, the others none
    notices = [decode_event(kind, d) for kind, d in published]
    assert {n.event_id: n.seq for n in notices
            if isinstance(n, DetectionNotice) and n.phase == "start"} == {
        e.body["event_id"]: e.seq for e in starts}
    assert all(n.seq is None for n in notices
               if isinstance(n, DetectionNotice) and n.phase != "start")


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_continuous_keeps_every_segment(store: Store, encoder: str) -> None:
    recorder, _ = record_scene(store, "continuous", n=100, encoder=encoder)
    assert recorder.stats.segments_encoded == recorder.stats.segments_stored == 5
    with HistoryReader(store.data_dir, store.identity) as history:
        segments = list(history.records(kinds=["recording"]))
    total = sum(count_frames(pyrage.decrypt(
        (StoreLayout(store.data_dir).media_file(s.media[0].sha256)).read_bytes(),
        [store.identity])) for s in segments)
    assert total == 100  # every frame once


def test_redacted_export_reencodes_each_exported_segment_once(store: Store,
                                                              tmp_path: Path) -> None:
    record_scene(store)
    with HistoryReader(store.data_dir, store.identity) as history:
        ends = [e for e in history.records(kinds=["event"]) if e.body["phase"] == "end"]

    named = {m.sha256 for e in ends for m in e.media if m.content_type == "video/mp4"}
    stick = tmp_path / "stick"
    stick.mkdir()
    result = export_bundle(store.data_dir, stick, Selection(kinds=("event",)), now=2000.0,
                           identity=store.identity, redact=True)
    redacted = list((result.path / "data/redacted").iterdir())
    assert len(redacted) == len(named) + 2  # each shared segment once, plus the snapshots
    assert not (result.path / "data/media").exists()  # nothing unredacted leaves
    report = verify_bundle(result.path, identity=store.identity, seed=store.seed)
    assert report.ok, report.problems
    frames = sum(count_frames(bytes(pyrage.decrypt(p.read_bytes(), [store.identity])))
                 for p in redacted)
    assert frames >= len(named) * 2.0 * FPS  # 2 s segments, every frame re-encoded
