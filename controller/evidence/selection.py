"""Which records an export takes, and the chain segment that proves them (pure).

A filtered export still has to let anyone check the hash chain, so the bundle carries the
whole contiguous segment from the seal before the first selected record to the seal that
covers the last one: every record of it with its header and body hash (enough to
recompute the chain), but ciphertext only for the selected records. The investigator can
then check continuity and every seal over the segment without seeing what was not asked for
(only the plaintext metadata of the unselected records in between is shown).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from controller.store.sealing import Seal


@dataclass(frozen=True)
class Selection:
    """The export filter: time range [since, until], sources and kinds (empty = all)."""

    since: float | None = None
    until: float | None = None
    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    def matches(self, t_wall: float, kind: str, source: str) -> bool:
        if self.since is not None and t_wall < self.since:
            return False
        if self.until is not None and t_wall > self.until:
            return False
        if self.sources and source not in self.sources:
            return False
        return not (self.kinds and kind not in self.kinds)

    def to_json(self) -> dict[str, object]:
        return {"from": self.since, "to": self.until, "sources": list(self.sources),
                "kinds": list(self.kinds)}


def parse_time(text: str) -> float:
    """Epoch seconds, or ISO 8601 (a time without zone is taken as UTC); ValueError if neither."""
    t = text.strip()
    try:
        return float(t)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither ISO 8601 time nor epoch seconds") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


@dataclass(frozen=True)
class Segment:
    """Records first_seq..last_seq, plus the seals over them (the first one is the anchor
    whose last_hash is the segment's first prev_hash, unless the segment starts the store)."""

    first_seq: int
    last_seq: int
    seals: tuple[Seal, ...]


def plan_segment(seals: Sequence[Seal], first_selected: int, last_selected: int,
                 last_record: int) -> Segment:
    """The smallest seal-aligned segment holding the selected records (seals sorted)."""
    anchor_last = 0
    for s in seals:
        if s.last_seq < first_selected:
            anchor_last = s.last_seq
    end = last_record
    for s in seals:
        if s.last_seq >= last_selected:
            end = s.last_seq
            break
    chosen = tuple(s for s in seals if anchor_last <= s.last_seq <= end)
    return Segment(anchor_last + 1, end, chosen)
