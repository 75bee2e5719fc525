"""The plate stage: one read per vehicle track, bounded work, never blocking the camera."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

from controller.config import CameraConfig
from controller.errors import EdgewardenError
from controller.plates.reader import PlateRead, PlateReader
from controller.plates.stage import PlateStage, TrackPlate
from controller.simulation.plates import scene

VEHICLE_BOX = (0.2, 0.3, 0.8, 0.9)  # around the synthetic scene's vehicle block


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


def _camera(**kw: object) -> CameraConfig:
    return CameraConfig(name="gate", source="x", plates=True, **kw)  # type: ignore[arg-type]


def _run(stage: PlateStage, frames: list[tuple[np.ndarray, list, float]]) -> None:
    stage.start()
    for image, tracks, t in frames:
        stage.observe(image, tracks, t)
    stage.close()


def test_a_vehicle_track_gets_exactly_one_plate_read_from_a_few_of_its_frames(
        reader: PlateReader) -> None:
    reads: list[TrackPlate] = []
    calls: list[int] = []

    def read(image: np.ndarray) -> list[PlateRead]:
        calls.append(1)
        return reader.read(image)

    stage = PlateStage(_camera(), read, reads.append)
    frames = []
    for i in range(30):
        frame, _ = scene("KJA-407XY", seed=i, noise=4.0)
        # the score rises on every frame: without the attempt bound every frame is read
        frames.append((frame, [(7, "car", VEHICLE_BOX, 0.5 + i / 100)], float(i)))
    frames.append((frames[-1][0], [], 30.0))  # the track is gone
    _run(stage, frames)
    assert [(r.track_id, r.text, r.camera, r.label) for r in reads] == [
        (7, "KJA407XY", "gate", "car")]
    assert reads[0].agreeing >= 2 and 0 < reads[0].confidence <= 1
    assert reads[0].plate.size and reads[0].vehicle.size
    assert len(calls) <= _camera().plate_attempts


def test_labels_that_are_not_vehicles_are_never_read() -> None:
    calls: list[int] = []

    def read(image: np.ndarray) -> list[PlateRead]:
        calls.append(1)
        return []

    frame, _ = scene("ABC-123DE")
    stage = PlateStage(_camera(), read, lambda r: None)
    _run(stage, [(frame, [(1, "person", VEHICLE_BOX, 0.9)], 0.0)])
    assert calls == []


def test_gate_mode_reads_the_whole_frame(reader: PlateReader) -> None:
    reads: list[TrackPlate] = []
    stage = PlateStage(_camera(plates_mode="gate"), reader.read, reads.append)
    frame, _ = scene("LND-908BG", seed=3)
    _run(stage, [(frame, [(1, "motion", (0.4, 0.4, 0.5, 0.5), 0.5 + i / 10)], float(i))
                 for i in range(5)])
    assert [r.text for r in reads] == ["LND908BG"]
    assert reads[0].vehicle.shape == frame.shape


def test_a_full_queue_drops_and_counts_and_the_camera_thread_does_not_wait() -> None:
    release = threading.Event()

    def read(image: np.ndarray) -> list[PlateRead]:
        release.wait()  # OCR stuck: the queue fills
        return []

    stage = PlateStage(_camera(plate_queue=1, plate_attempts=16, plate_agree=16), read,
                       lambda r: None)
    stage.start()
    frame, _ = scene("ABC-123DE")
    for i in range(40):  # would never return if observe waited on the stuck reader
        stage.observe(frame, [(i % 4, "car", VEHICLE_BOX, i / 40)], float(i))
    assert stage.stats.dropped > 0
    assert stage.summary()["dropped"] == stage.stats.dropped
    release.set()
    stage.close()


def test_attempts_below_agree_is_refused_by_the_schema() -> None:
    from controller.config.schema import FieldProblem
    with pytest.raises(FieldProblem):
        _camera(plate_agree=5, plate_attempts=3)


def test_a_loaded_reader_reads_the_crops_offered_while_it_loaded(reader: PlateReader) -> None:
    states: list[tuple[str, str | None]] = []
    reads: list[TrackPlate] = []
    release = threading.Event()

    def load() -> Callable[[np.ndarray], list[PlateRead]]:
        release.wait(60)
        return reader.read

    stage = PlateStage(_camera(plates_mode="gate"), None, reads.append, load=load,
                       on_state=lambda state, reason: states.append((state, reason)))
    stage.start()
    frame, _ = scene("LND-908BG", seed=3)
    for i in range(3):
        stage.observe(frame, [(1, "motion", (0.4, 0.4, 0.5, 0.5), 0.5 + i / 10)], float(i))
    assert stage.summary()["state"] == "loading" and stage.stats.read == 0
    release.set()
    stage.close()
    assert states == [("reading", None)] and stage.summary()["state"] == "reading"
    assert [r.text for r in reads] == ["LND908BG"]


def test_a_reader_that_cannot_load_leaves_the_stage_unavailable_saying_why() -> None:
    states: list[tuple[str, str | None]] = []

    def load() -> Callable[[np.ndarray], list[PlateRead]]:
        raise EdgewardenError("OCR model file missing: /models/det.onnx")

    stage = PlateStage(_camera(plates_mode="gate"), None, lambda r: None, load=load,
                       on_state=lambda state, reason: states.append((state, reason)))
    stage.start()
    stage.close()  # the thread has ended: the load failed
    frame, _ = scene("LND-908BG")
    stage.observe(frame, [(1, "motion", (0.4, 0.4, 0.5, 0.5), 0.9)], 0.0)
    assert states == [("unavailable", "OCR model file missing: /models/det.onnx")]
    summary = stage.summary()
    assert summary["state"] == "unavailable" and summary["reason"] == states[0][1]
    assert summary["offered"] == 0
