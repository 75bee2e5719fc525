"""Media per camera and the days of footage a budget holds, as status and the TUI show."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from controller.camera.segments import EncodedSegment
from controller.config import StoreConfig
from controller.detect.events import DetectionEvent
from controller.service.camera_records import CameraRecords
from controller.store import RecordWriter
from controller.store.budget import MB
from controller.store.footage import footage, media_bytes_by_source
from tests.store.conftest import make_store
from tui.model import Camera, Status
from tui.widgets.panels import render_cameras


def test_days_held_from_camera_store_or_disk_budget() -> None:
    day = 86400.0
    # 1 MB per day written by this camera, 3 MB per day by all cameras
    cam = footage(5, int(MB), day, 10.0, 0.0, int(3 * MB), 0, 0)
    assert cam.budget_from == "camera" and cam.days_held == 10.0
    shared = footage(5, int(MB), day, 0.0, 30.0, int(3 * MB), 0, 0)
    assert shared.budget_from == "store" and shared.days_held == 10.0
    disk = footage(5, int(MB), day, 0.0, 0.0, int(3 * MB), int(6 * MB), int(24 * MB))
    assert disk.budget_from == "disk" and disk.days_held == 10.0
    assert footage(0, 0, day, 0.0, 0.0, 0, 0, 10).days_held is None  # nothing written


def test_segment_shared_by_events_counts_once_for_its_camera(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    writer = RecordWriter.open(store.data_dir, StoreConfig(commit_interval_ms=5))
    records = CameraRecords(writer, lambda kind, data: None, lambda: None)
    ref = records.store_segment("gate", EncodedSegment(0.0, 4.0, 40, b"v" * 1000, "video/mp4"))
    assert ref is not None
    for track in (1, 2):  # two events name the same segment
        records.on_event(DetectionEvent("gate", "all", "car", track, 1.0, 2.0, 0.9, 1.5, (),
                                        snapshot_jpeg=b"j" * 100, segments=(ref,)))
    records.store_segment("yard", EncodedSegment(0.0, 4.0, 40, b"w" * 500, "video/mp4"))
    assert writer.flush(10)
    writer.close()
    assert media_bytes_by_source(store.data_dir / "records.db") == {"gate": 1200, "yard": 500}
    assert records.media["gate"].bytes_written == 1200 and records.media["gate"].segments == 1


def test_tui_cameras_panel_shows_media_and_days() -> None:
    cam = Camera("gate", "running", media_bytes=2_500_000_000, days_held=9.46)
    console = Console(width=100, record=True)
    console.print(render_cameras(Status(cameras=(cam, Camera("yard"))), 0.0))
    text = console.export_text()
    assert "2.5 GB, 9.5 d" in text and "media" in text
    console = Console(width=100, record=True)
    console.print(render_cameras(Status(cameras=(Camera("yard"),)), 0.0))
    assert "media" not in console.export_text()  # older services: no column


