"""The media budget: the oldest media are shed first, per camera and in total, recorded;
alarms and audit records are never touched."""

from __future__ import annotations

import numpy as np

from controller.camera.recording import SegmentRecorder
from controller.camera.segment_keeper import SegmentKeeper
from controller.camera.segments import OpenCvSegmentEncoder
from controller.config import StoreConfig
from controller.service.camera_records import CameraRecords
from controller.store import HistoryReader, RecordWriter, verify_store
from controller.store.budget import MB, MediaFile, days_held, plan_shedding
from controller.store.layout import StoreLayout
from tests.store.conftest import Store


def f(sha: str, t: float, size: int, source: str = "cam0") -> MediaFile:
    return MediaFile(sha, t, size, source)


def test_plan_sheds_oldest_first_until_within_total_budget() -> None:
    files = [f(str(i), float(i), 10) for i in range(10)]
    assert [x.sha256 for x in plan_shedding(files, 35, {})] == [str(i) for i in range(7)]
    assert plan_shedding(files, 100, {}) == []
    assert plan_shedding(files, 0, {}) == []  # no budget


def test_plan_per_camera_budget_sheds_only_that_camera() -> None:
    files = [f(f"a{i}", float(2 * i), 10, "a") for i in range(5)]
    files += [f(f"b{i}", float(2 * i + 1), 10, "b") for i in range(5)]
    files.sort(key=lambda x: x.t_wall)
    shed = plan_shedding(files, 0, {"a": 20})
    assert [x.sha256 for x in shed] == ["a0", "a1", "a2"]
    both = plan_shedding(files, 40, {"a": 20})  # a: 3 shed, then the oldest of the rest
    assert [x.sha256 for x in both] == ["a0", "b0", "a1", "b1", "a2", "b2"]


def test_days_held() -> None:
    assert days_held(86400 * 100, 100.0) == 1.0
    assert days_held(0, 100.0) is None and days_held(10, 0.0) is None


def frames(n: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    for i in range(n):
        image = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        yield i, image


def test_budget_smaller_than_an_hour_keeps_the_newest_and_records_what_was_shed(
        store: Store) -> None:
    fps, segment_s = 2.0, 60.0  # one hour = 60 segments
    probe = OpenCvSegmentEncoder(segment_s, fps)
    for i, image in frames(int(fps * segment_s)):
        probe.add(image, i / fps)
    (one,) = probe.flush(segment_s)
    probe.close()
    budget = 10.5 * len(one.data)
    cfg = StoreConfig(commit_interval_ms=5, reserved_space_mb=1, shed_margin_mb=1,
                      media_budget_mb=budget / MB)
    writer = RecordWriter.open(store.data_dir, cfg)
    records = CameraRecords(writer, lambda kind, data: None, lambda: None)
    recorder = SegmentRecorder("cam0", OpenCvSegmentEncoder(segment_s, fps),
                               SegmentKeeper("continuous", 0.0, 0.0), records)
    for i, image in frames(int(fps * 3600)):
        recorder.add(image, i / fps)
    recorder.finish(3600.0)
    recorder.close()
    assert writer.flush(30)
    writer.enforce_media_budget()
    writer.close()

    layout = StoreLayout(store.data_dir)
    with HistoryReader(store.data_dir, store.identity) as history:
        segments = list(history.records(kinds=["recording"]))
        audits = [r.body for r in history.records(kinds=["audit"])
                  if r.body.get("action") == "shed-media"]
    assert len(segments) == 60
    kept = [r for r in segments if layout.media_file(r.media[0].sha256).exists()]
    assert 8 <= len(kept) <= 11
    assert kept == segments[-len(kept):]  # the newest hour's tail, nothing older
    assert kept[-1].body["end"] == 3600.0
    assert sum(r.media[0].size for r in kept) <= budget
    assert audits and all(a["reason"] == "media budget" for a in audits)
    assert sum(a["files"] for a in audits) == 60 - len(kept)
    shed = {sha for a in audits for sha in a["sha256"]}
    assert shed == {r.media[0].sha256 for r in segments[:-len(kept)]}
    report = verify_store(store.data_dir, store.seed, store.identity)
    assert report.ok, report.problems
