"""Plate reads in the TUI (sans-IO): notices and records joined, the search, register replies."""

from __future__ import annotations

import pytest

from controller.control import schema
from controller.plates.register import make_entry
from controller.service.notices import plate_notice
from tests.tui.scripted_service import T0, plate_body, scripted_register
from tui.model import EventMeta
from tui.plate_reads import (
    LOCKED,
    PlateRead,
    merge_reads,
    plate_read_of,
    read_from_meta,
    read_from_record,
    search_distance,
    search_reads,
)
from tui.secret import OpenedRecord
from tui.vehicle_replies import ReplyMismatch, add_args, parse_entry, parse_register


def stored(text: str, track: int, t: float, record_id: int) -> PlateRead:
    body = plate_body(scripted_register(), text, "gate", track, "car", 0.9, t,
                      ["plate", "vehicle"])
    record = OpenedRecord(
        meta=EventMeta(id=record_id, time=t + 0.05, kind="plate", source="gate"),
        body=body, media={"a": b"crop", "b": b"car"},
        media_types={"a": "image/jpeg", "b": "image/jpeg"})
    read = read_from_record(record)
    assert read is not None
    return read


def test_a_notice_says_the_verdict_and_never_the_plate() -> None:
    body = plate_body(scripted_register(), "KJA407XY", "gate", 7, "car", 0.93, T0, [])
    read = plate_read_of(schema.decode_event("plate", schema.to_wire(plate_notice(body, 3))))
    assert (read.camera, read.track_id, read.verdict, read.entry, read.priority) == (
        "gate", 7, "watch", "stolen van", "high")
    assert read.text is None
    with pytest.raises(schema.EventMismatch):  # a notice without its camera is refused
        schema.decode_event("plate", {"time": T0})


def test_a_record_gives_the_text_the_match_and_the_crop_before_the_snapshot() -> None:
    read = stored("KJA4O7XY", 7, T0, 40)  # one look-alike from the watch-listed KJA407XY
    assert (read.text, read.verdict, read.matched, read.record_id) == (
        "KJA4O7XY", "watch", "KJA407XY", 40)
    assert read.crop == b"crop" and read.vehicle == b"car"
    nobody = stored("EPE118KD", 8, T0, 41)
    assert nobody.verdict == "unknown" and nobody.entry == ""


def test_a_stored_read_takes_the_place_of_its_notice_newest_first() -> None:
    body = plate_body(scripted_register(), "KJA407XY", "gate", 7, "car", 0.93, T0, [])
    notice = plate_read_of(plate_notice(body, 4))
    older = plate_read_of(plate_notice(
        plate_body(scripted_register(), "ABC123DE", "gate", 6, "car", 0.9, T0 - 30, []), 3))
    assert [r.track_id for r in merge_reads([older, notice], [])] == [7, 6]
    merged = merge_reads([older, notice], [stored("KJA407XY", 7, T0, 40)])
    assert [(r.track_id, r.text) for r in merged] == [(7, "KJA407XY"), (6, None)]
    # locked: the listed record is the notice heard just before it was stored
    locked = read_from_meta(EventMeta(id=40, time=T0 + 0.05, kind="plate", source="gate",
                                      severity="warning"))
    merged = merge_reads([older, notice], [locked])
    assert [(r.track_id, r.record_id, r.verdict) for r in merged] == [
        (7, 40, "watch"), (6, None, "allow")]
    # a record with no notice (heard before this client started) is a row of its own
    alone = merge_reads([], [locked])
    assert [(r.record_id, r.verdict, r.shown_verdict) for r in alone] == [
        (40, LOCKED, "alarm")]


@pytest.mark.parametrize(("query", "plate", "expected"), [
    ("KJA", "KJA407XY", 0.0),          # a part
    ("kja-407", "KJA407XY", 0.0),      # normalised as the register normalises
    ("KJA4O7", "KJA407XY", 0.4),       # O for 0: a look-alike costs less
    ("KJB407", "KJA407XY", 1.0),       # one wrong character
    ("KJA47XY", "KJA407XY", 1.0),      # one character missed
    ("XYZ", "KJA407XY", None),         # out of reach
    ("LSR990AAB", "KJA407XY", None),
    ("", "KJA407XY", None),
])
def test_search_distance(query: str, plate: str, expected: float | None) -> None:
    assert search_distance(query, plate) == (None if expected is None
                                             else pytest.approx(expected))


def test_search_finds_parts_first_then_near_reads_and_skips_unread_ones() -> None:
    exact = stored("KJA407XY", 1, T0 - 10, 1)
    near = stored("KJA4O7XY", 2, T0, 2)
    other = stored("EPE118KD", 3, T0, 3)
    notice = PlateRead(camera="gate", time=T0, track_id=4)  # no text: cannot match
    found = search_reads([near, other, exact, notice], "KJA407")
    assert [(r.record_id, d) for r, d in found] == [(1, 0.0), (2, pytest.approx(0.4))]


def test_register_replies_read_into_entries() -> None:
    entries = parse_register({"entries": [e.as_json() for e in scripted_register().entries()]})
    assert [e.plate for e in entries] == ["ABC123DE", "KJA407XY", "LSR990AA"]
    entry = make_entry("KJA-407XY", "watch", "stolen van", "", "high")
    assert parse_entry(entry.as_json()) == entry
    assert add_args(entry, replace=True)["replace"] is True
    with pytest.raises(ReplyMismatch, match=r"answer to vehicles\.list does not match"):
        parse_register([])
    with pytest.raises(ReplyMismatch, match=r"answer to vehicles\.add does not match"):
        parse_entry({"plate": "KJA407XY", "list": "maybe"}, "vehicles.add")
