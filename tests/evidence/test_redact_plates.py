"""Redacted exports blur every plate but those of the selected plate reads.

Synthetic Nigerian plates (tests/plates/synth.py) in a frame: the selected read's plate
stays readable in its crop and vehicle snapshot, another vehicle's plate in the same
snapshot and a plate in an event's snapshot are blurred (the OCR no longer reads them),
and the bundle still verifies. Real writer, real PlateRecords, real export.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyrage
import pytest

from controller.config import CameraConfig, StoreConfig
from controller.evidence import Selection, export_bundle, verify_bundle
from controller.evidence.redact import (
    PlateBoxes,
    cascade_regions,
    locator_regions,
    redact_image,
)
from controller.plates.reader import PlateReader
from controller.plates.register import Register, make_entry
from controller.plates.stage import TrackPlate
from controller.service.plate_records import PlateRecords
from controller.simulation.plates import plate_image, scene
from controller.store import RecordWriter, initialise
from controller.store.keyschedule import decode_verification_key

Px = tuple[int, int, int, int]  # x0, y0, x1, y1
SELECTED, OTHER, ELSEWHERE = "KJA-407XY", "LND-908BG", "ABC-123DE"


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


def _two_plates() -> tuple[np.ndarray, Px, Px]:
    """A frame with the selected vehicle's plate and another vehicle's plate, and both boxes."""
    frame, kept = scene(SELECTED, seed=1)
    other = plate_image(OTHER, 200)
    x0, y0 = 900, 100
    frame[y0:y0 + other.shape[0], x0:x0 + other.shape[1]] = other
    return frame, kept, (x0, y0, x0 + other.shape[1], y0 + other.shape[0])


def _norm(box: Px, image: np.ndarray) -> tuple[float, float, float, float]:
    h, w = image.shape[:2]
    return (box[0] / w, box[1] / h, box[2] / w, box[3] / h)


def _crop(image: np.ndarray, box: Px, margin: int = 12) -> np.ndarray:
    x0, y0, x1, y1 = box
    return image[max(0, y0 - margin):y1 + margin, max(0, x0 - margin):x1 + margin]


def _detail(patch: np.ndarray) -> float:
    """Mean difference between horizontal neighbours: high for characters, low blurred."""
    return float(np.abs(np.diff(patch.astype(np.int32), axis=1)).mean())


def _texts(reader: PlateReader, image: np.ndarray) -> list[str]:
    return [r.text for r in reader.read(image)]


def _jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return data.tobytes()


def _decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def test_a_kept_plate_stays_readable_and_every_other_is_blurred(reader: PlateReader) -> None:
    frame, kept, other = _two_plates()
    data = _jpeg(frame)
    original = _decode(data)
    assert _texts(reader, _crop(original, other)) == [OTHER.replace("-", "")]
    out = redact_image(data, "image/jpeg", [], plates=PlateBoxes(keep=(_norm(kept, frame),)))
    assert "plate-locator" in out.methods
    red = _decode(out.data)
    # the other vehicle's plate: found by the searches, obscured, no longer read
    assert _detail(_crop(red, other, 0)) < _detail(_crop(original, other, 0)) / 3
    assert OTHER.replace("-", "") not in _texts(reader, _crop(red, other))
    # the kept plate is as it was (bar the JPEG re-encoding) and still reads
    diff = np.abs(_crop(red, kept, 0).astype(int) - _crop(original, kept, 0).astype(int))
    assert diff.mean() < 3
    assert _texts(reader, _crop(red, kept, 40)) == [SELECTED.replace("-", "")]
    # with nothing to keep, the searches blur that plate too
    unkept = _decode(redact_image(data, "image/jpeg", []).data)
    assert _detail(_crop(unkept, kept, 0)) < _detail(_crop(original, kept, 0)) / 3


def test_the_plate_of_a_read_not_selected_is_blurred_where_no_search_looks() -> None:
    frame, _, _ = _two_plates()
    box: Px = (40, 600, 200, 650)  # plain background: no search finds anything there
    found = cascade_regions(frame) + locator_regions(frame)
    assert not any(x < box[2] and box[0] < x + w and y < box[3] and box[1] < y + h
                   for x, y, w, h in found)
    data = _jpeg(frame)
    out = redact_image(data, "image/jpeg", [], plates=PlateBoxes(blur=(_norm(box, frame),)))
    assert "plate-reads" in out.methods
    before, after = _decode(data), _decode(out.data)
    assert _detail(_crop(after, box, 0)) < _detail(_crop(before, box, 0)) / 3


# ----------------------------------------------------------------------------- export
def _plate_store(tmp_path: Path) -> tuple[Path, pyrage.x25519.Identity, bytes, dict[str, Any]]:
    """A watch hit read in a frame that shows another vehicle's plate too, and an event
    whose snapshot shows a third plate no read was made of."""
    identity = pyrage.x25519.Identity.generate()
    data_dir = tmp_path / "data"
    result = initialise(data_dir, passphrase=None, identity_on_device=False,
                        extra_recipients=[str(identity.to_public())])
    frame, kept, other = _two_plates()
    event_frame, elsewhere = scene(ELSEWHERE, seed=2)
    x0, y0, x1, y1 = kept
    read = TrackPlate("gate", 7, "car", SELECTED.replace("-", ""), 0.95, 3, 3, 10.0, 11.0,
                      frame[y0:y1, x0:x1].copy(), frame, kept)
    register = Register([make_entry(SELECTED.replace("-", ""), "watch")])
    cfg = StoreConfig(commit_interval_ms=5, seal_every_records=8, reserved_space_mb=1,
                      shed_margin_mb=1)
    with RecordWriter.open(data_dir, cfg) as w:
        PlateRecords(w, lambda: register, lambda ch, t: None, lambda: None).on_read(
            CameraConfig(name="gate", source="x", plates=True), read)
        snap = w.add_media(_jpeg(event_frame), "image/jpeg")
        body = {"camera": "gate", "label": "person",
                "detections": [{"label": "person", "score": 0.9,
                                "box": [0.02, 0.02, 0.12, 0.3]}]}
        assert w.append("event", "gate", "warning", body, [snap]).wait_durable(10)
    seed = decode_verification_key(result.verification_key)
    return data_dir, identity, seed, {"frame": frame, "kept": kept, "other": other,
                                      "event_frame": event_frame, "elsewhere": elsewhere}


def test_a_redacted_export_keeps_only_the_selected_reads_plates(
        tmp_path: Path, reader: PlateReader) -> None:
    data_dir, identity, seed, scene_of = _plate_store(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    result = export_bundle(data_dir, out, Selection(kinds=("plate", "event")),
                           now=time.time(), identity=identity, redact=True)
    doc = json.loads((result.path / "data/bundle.json").read_text())
    assert {e["state"] for e in doc["media"]} == {"redacted"}
    images = [(e["seq"], _decode(bytes(pyrage.decrypt(
        (result.path / f"data/redacted/{e['redacted_sha256']}.age").read_bytes(),
        [identity])))) for e in doc["media"]]
    plate_seq = min(seq for seq, _ in images)  # the read, then the event
    crop, vehicle = sorted((im for seq, im in images if seq == plate_seq), key=lambda im: im.size)
    (event,) = [im for seq, im in images if seq != plate_seq]
    text = SELECTED.replace("-", "")
    assert _texts(reader, cv2.copyMakeBorder(crop, 30, 30, 30, 30, cv2.BORDER_REPLICATE)) \
        == [text]
    frame, kept, other = scene_of["frame"], scene_of["kept"], scene_of["other"]
    assert vehicle.shape == frame.shape
    assert _texts(reader, _crop(vehicle, kept, 40)) == [text]
    assert _detail(_crop(vehicle, other, 0)) < _detail(_crop(frame, other, 0)) / 3
    assert OTHER.replace("-", "") not in _texts(reader, _crop(vehicle, other))
    elsewhere = scene_of["elsewhere"]
    assert _texts(reader, _crop(scene_of["event_frame"], elsewhere)) == [
        ELSEWHERE.replace("-", "")]
    assert ELSEWHERE.replace("-", "") not in _texts(reader, _crop(event, elsewhere))
    assert _detail(_crop(event, elsewhere, 0)) < _detail(
        _crop(scene_of["event_frame"], elsewhere, 0)) / 3
    verdict = verify_bundle(result.path, identity=identity, seed=seed)
    assert verdict.ok, verdict.problems
