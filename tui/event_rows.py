"""One row per detection event: its start record and its end record joined (sans-IO).

The service stores an event as two records sharing one ``event_id``: a ``start`` record
when it begins (label, first score) and an ``end`` record once its post-roll is recorded
(snapshot, track, segments). The list shows the event once, where it started, with what
the end record says; a start with no end yet is an event still going on. Locked history
has no bodies, so nothing can be joined: each record is its own row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tui.model import EventMeta
from tui.secret import OpenedRecord


@dataclass(frozen=True)
class EventRow:
    """A row of the Events list."""

    meta: EventMeta  # the record the row is keyed and timed by (an event's start record)
    opened: OpenedRecord | None  # what the row says: the end record once there is one
    ongoing: bool = False  # a start with no end record yet

    @property
    def detail(self) -> EventMeta:
        """The record opened from this row (the end, with the snapshot, once it exists)."""
        return self.opened.meta if self.opened is not None else self.meta


def _phase(record: OpenedRecord | None) -> tuple[str, str] | None:
    if record is None or record.meta.kind != "event":
        return None
    phase, event_id = record.body.get("phase"), record.body.get("event_id")
    if isinstance(phase, str) and isinstance(event_id, str) and event_id:
        return phase, event_id
    return None


def event_rows(metas: Iterable[EventMeta],
               bodies: Mapping[int, OpenedRecord]) -> list[EventRow]:
    """The rows for ``metas`` (in their order) given the decrypted ``bodies`` by record id."""
    metas = tuple(metas)
    ends: dict[str, OpenedRecord] = {}
    started: set[str] = set()
    for meta in metas:
        tagged = _phase(bodies.get(meta.id))
        if tagged is None:
            continue
        phase, event_id = tagged
        if phase == "end":
            ends.setdefault(event_id, bodies[meta.id])
        elif phase == "start":
            started.add(event_id)
    rows: list[EventRow] = []
    for meta in metas:
        opened = bodies.get(meta.id)
        tagged = _phase(opened)
        if tagged is None:
            rows.append(EventRow(meta, opened))
            continue
        phase, event_id = tagged
        if phase == "start":
            end = ends.get(event_id)
            rows.append(EventRow(meta, end or opened, ongoing=end is None))
        elif phase == "end" and event_id in started:
            continue  # shown on its start's row
        else:  # an end whose start is outside the list (range, limit, retention)
            rows.append(EventRow(meta, opened))
    return rows
