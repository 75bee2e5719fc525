"""Plate reads as the Plates screen shows them, and the search of reads by plate (sans-IO).

A read reaches the TUI two ways: as a live ``plate`` notice (the verdict, never the text,
which the service keeps inside the encrypted record) and as a stored ``plate`` record,
listed as metadata and, after unlock, decrypted here with its plate crop and vehicle
snapshot. Both name the read by camera, track and read time, so a decrypted record fills
in the notice it belongs to. The search normalises plates and measures look-alike-aware
distance exactly as the register matches reads (controller.plates), so a query finds what
the register would have.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui.model import EventMeta, _dict, _float, _int, _list, _str
from tui.secret import OpenedRecord

if TYPE_CHECKING:
    from controller.control import schema

VERDICTS = ("allow", "watch", "deny", "unknown")
LOCKED = "locked"  # a stored read while history is locked: its verdict is in its body
#: the search's reach: one wrong character, or two look-alikes (O/0, B/8, ...)
SEARCH_DISTANCE = 1.0
#: a shorter query matches only as an exact part (two letters are near almost anything)
FUZZY_MIN = 4
#: a record is stored this soon after its read (its header time is the write)
JOIN_WINDOW_S = 2.0


@dataclass(frozen=True)
class PlateRead:
    """One vehicle's plate read: what a notice says, plus what its record says once open."""

    camera: str
    time: float  # when the read was made (the record body's and the notice's "time")
    track_id: int = -1
    verdict: str = "unknown"  # allow | watch | deny | unknown, or LOCKED
    label: str = ""  # the vehicle's class (car, truck, ...)
    confidence: float | None = None
    entry: str = ""  # the register entry's label, on a hit
    priority: str = ""  # the hit's alarm priority
    record_id: int | None = None  # the stored record, once listed
    text: str | None = None  # the plate, after unlock only
    matched: str = ""  # the register plate a hit matched (it may differ: fuzzy)
    crop: bytes | None = None  # the plate crop (image bytes), after unlock
    vehicle: bytes | None = None  # the vehicle snapshot, after unlock
    severity: str = ""  # the record's plaintext severity: "warning" for a watch/deny hit

    @property
    def shown_verdict(self) -> str:
        """The verdict as far as this client knows it: a locked record says only whether
        it raised an alarm (its severity), not which list it is on."""
        if self.verdict != LOCKED:
            return self.verdict
        return "alarm" if self.severity == "warning" else "—"

    @property
    def key(self) -> tuple[str, int, float]:
        """What a notice and its record share (the service rounds the time to ms)."""
        return (self.camera, self.track_id, round(self.time, 3))

    @property
    def row_key(self) -> str:
        return f"r{self.record_id}" if self.record_id is not None else \
            f"n{self.camera}/{self.track_id}/{self.time:.3f}"


def _verdict(value: Any) -> str:
    return value if value in ("allow", "watch", "deny") else "unknown"


def plate_read_of(notice: schema.PlateNotice) -> PlateRead:
    """A live ``plate`` notice (decoded by the shared schema): the verdict, no text."""
    return PlateRead(camera=notice.camera, time=notice.time, track_id=notice.track_id,
                     verdict=_verdict(notice.list), label=notice.label,
                     confidence=notice.confidence, entry=notice.entry or "",
                     priority=notice.priority or "")


def read_from_meta(meta: EventMeta) -> PlateRead:
    """A stored read known only by its plaintext metadata (history locked)."""
    return PlateRead(camera=meta.source, time=meta.time, verdict=LOCKED, record_id=meta.id,
                     severity=meta.severity)


def read_from_record(record: OpenedRecord) -> PlateRead | None:
    """A decrypted ``plate`` record; its media are the crop then the vehicle, as named."""
    if record.meta.kind != "plate":
        return None
    body = record.body
    match = _dict(body.get("match"))
    images = [record.media[d] for d, kind in record.media_types.items()
              if kind.startswith("image/") and d in record.media]
    names = _list(body.get("media"))
    by_name = dict(zip(names, images, strict=False))
    text = body.get("text")
    return PlateRead(
        camera=_str(body.get("camera"), record.meta.source),
        time=_float(body.get("time"), record.meta.time) or record.meta.time,
        track_id=_int(body.get("track_id"), -1), verdict=_verdict(body.get("list")),
        label=_str(body.get("label")), confidence=_float(body.get("confidence")),
        entry=_str(match.get("label")), priority=_str(match.get("priority")),
        record_id=record.meta.id, text=text if isinstance(text, str) else None,
        matched=_str(match.get("plate")),
        crop=by_name.get("plate"), vehicle=by_name.get("vehicle"))


def merge_reads(live: Iterable[PlateRead], stored: Iterable[PlateRead]) -> list[PlateRead]:
    """Every read once, newest first: a stored read takes the place of its notice, and a
    locked stored read keeps the verdict its notice told."""
    by_key: dict[tuple[str, int, float], PlateRead] = {}
    for read in live:
        by_key[read.key] = read
    locked: list[PlateRead] = []
    for read in stored:
        if read.verdict == LOCKED:  # no body: no track id to join on, unless by time
            locked.append(read)
            continue
        by_key[read.key] = read
    # a locked record is the notice heard on its camera when it was stored (just after)
    for read in locked:
        near = [(abs(r.time - read.time), k) for k, r in by_key.items()
                if r.record_id is None and r.camera == read.camera
                and abs(r.time - read.time) <= JOIN_WINDOW_S]
        if near:
            key = min(near)[1]
            by_key[key] = dataclasses.replace(by_key[key], record_id=read.record_id)
        else:
            by_key[("", read.record_id or 0, read.time)] = read
    return sorted(by_key.values(), key=lambda r: (-r.time, r.camera, r.track_id))


def search_distance(query: str, plate: str) -> float | None:
    """How far `plate` is from containing `query` (0: it does), or None when out of reach.

    Both are normalised as the register normalises plates. Below `FUZZY_MIN` characters
    a query must be an exact part. A query shorter than the
    plate is a part of it: the plate's windows of the query's length (one more or less)
    are measured with the register's look-alike-aware distance, the nearest counts.
    """
    from controller.plates.formats import normalise  # on first search, not at start-up
    from controller.plates.register import distance

    q, p = normalise(query), normalise(plate)
    if not q or not p:
        return None
    if q in p:
        return 0.0
    if len(q) < FUZZY_MIN:
        return None
    best: float | None = None
    for size in {len(q) - 1, len(q), len(q) + 1}:
        if size < 1 or size > len(p):
            continue
        for start in range(len(p) - size + 1):
            d = distance(q, p[start:start + size])
            if best is None or d < best:
                best = d
    if best is None:  # the query is longer than the plate by more than one
        best = distance(q, p)
    return best if best <= SEARCH_DISTANCE else None


def search_reads(reads: Iterable[PlateRead], query: str) -> list[tuple[PlateRead, float]]:
    """The reads whose plate holds `query` (exact parts first, then the nearest), each with
    its distance; reads with no text (locked, or a notice) cannot match."""
    found: list[tuple[PlateRead, float]] = []
    for read in reads:
        if read.text is None:
            continue
        d = search_distance(query, read.text)
        if d is not None:
            found.append((read, d))
    found.sort(key=lambda pair: (pair[1], -pair[0].time))
    return found
