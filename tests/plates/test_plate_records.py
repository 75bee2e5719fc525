"""Plate reads against the register: which reads raise which alarm channel, what is stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from controller.camera.media import MediaRef
from controller.config import CameraConfig
from controller.control.schema import PlateNotice, decode_event
from controller.plates.register import Register, make_entry
from controller.plates.stage import TrackPlate
from controller.service.plate_records import PlateRecords, plate_rules


class RecordingWriter:
    """Test double of the writer: keeps what would be stored."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, str, dict[str, Any], list[MediaRef]]] = []
        self.media: list[str] = []

    def add_media(self, data: bytes, content_type: str) -> MediaRef:
        self.media.append(content_type)
        return MediaRef(f"{len(self.media):064x}", content_type, len(data))

    def append(self, kind: str, source: str, severity: str, body: dict[str, Any],
               media: list[MediaRef], on_stored: Callable[[int | None], None]) -> None:
        self.records.append((kind, source, severity, body, list(media)))
        on_stored(100 + len(self.records))  # durable, as record number 100 + n


REGISTER = Register([make_entry("KJA407XY", "watch", priority="high"),
                     make_entry("LND908BG", "deny"),
                     make_entry("ABC123DE", "allow")])


def _read(text: str) -> TrackPlate:
    image = np.full((120, 200, 3), 200, np.uint8)
    return TrackPlate("gate", 3, "car", text, 0.9, 2, 2, 10.0, 11.0, image[40:80, 50:150],
                      image, (50, 40, 150, 80))


def _run(text: str, **cam: Any) -> tuple[RecordingWriter, list[str]]:
    return _run_told(text, **cam)[:2]


def _run_told(text: str, **cam: Any) -> tuple[RecordingWriter, list[str], list[Any]]:
    writer = RecordingWriter()
    raised: list[str] = []
    told: list[Any] = []
    records = PlateRecords(writer, lambda: REGISTER, lambda ch, t: raised.append(ch),  # type: ignore[arg-type]
                           lambda: None, publish=lambda k, d: told.append((k, d)))
    records.on_read(CameraConfig(name="gate", source="x", plates=True, **cam), _read(text))
    return writer, raised, told


@pytest.mark.parametrize("text,channel", [
    ("KJA407XY", "camera/gate/plates/watch/high"),
    ("KJA4O7XY", "camera/gate/plates/watch/high"),  # fuzzy: O for 0 is a look-alike
    ("LND908BG", "camera/gate/plates/deny/urgent"),  # the register's critical
])
def test_watch_and_deny_hits_raise_their_channel(text: str, channel: str) -> None:
    writer, raised = _run(text)
    assert raised == [channel]
    assert channel in plate_rules([CameraConfig(name="gate", source="x", plates=True)])
    ((kind, source, severity, body, media),) = writer.records
    assert (kind, source, severity) == ("plate", "gate", "warning")
    assert body["text"] == text and body["list"] in ("watch", "deny")
    assert len(media) == 2 and writer.media == ["image/jpeg", "image/jpeg"]


def test_an_allow_hit_is_recorded_only() -> None:
    writer, raised = _run("ABC123DE", plate_unknown_alarm=True)
    assert raised == []
    assert writer.records[0][2] == "info" and writer.records[0][3]["list"] == "allow"


def test_a_vehicle_on_no_list_is_stored_as_unlisted_with_its_plate_box() -> None:
    """The clear severity is the read's retention class (retention_days.plate_unlisted);
    the plate's box in the vehicle snapshot (for redacted exports) stays in the body."""
    writer, _ = _run("XYZ999AA")
    ((kind, _, severity, body, _),) = writer.records
    assert (kind, severity, body["list"]) == ("plate", "unlisted", None)
    assert body["media"] == ["plate", "vehicle"]
    assert body["plate_box"] == [0.25, round(40 / 120, 4), 0.75, round(80 / 120, 4)]


def test_a_vehicle_on_no_list_alarms_only_when_asked() -> None:
    assert _run("XYZ999AA")[1] == []
    assert _run("XYZ999AA", plate_unknown_alarm=True, plate_unknown_priority="medium")[1] == [
        "camera/gate/plates/unknown/medium"]


def test_no_plate_text_in_the_plaintext_header_or_channel() -> None:
    writer, raised = _run("KJA407XY")
    kind, source, severity, _, _ = writer.records[0]
    assert "KJA407XY" not in f"{kind}{source}{severity}{raised}"


def test_the_notice_names_the_durable_record_and_never_the_text() -> None:
    _, _, told = _run_told("KJA407XY")
    ((kind, data),) = told
    notice = decode_event(kind, data)
    assert isinstance(notice, PlateNotice)
    assert notice.seq == 101 and notice.list == "watch" and notice.priority == "high"
    assert "KJA407XY" not in repr(data)
