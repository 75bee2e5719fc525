"""Tombstones: chained records that say why something legitimately disappeared (pure).

Retention, shredding and shedding on a full disk remove bodies, media files and whole
epochs. Each such removal is recorded as an audit record whose header `source` is
`tombstone/<compact JSON>`: headers are in clear and in the hash chain, so `verify`
reads a tombstone without the identity and no one can add, alter or drop one in a closed
epoch without breaking the chain or its seals. `Explainer` answers, for each absence
verify sees, whether a tombstone (and the configured retention) explains it.

Retention is per class (retention_class.py: a kind, or `plate_unlisted`, the plate reads
of vehicles on no list); callers pass each record's class, `class_of(kind, severity)`.

Details:
    {"why": "retention", "at": T, "cutoffs": {class: t_wall cutoff}, "shredded": [epochs]}
    {"why": "shed-readings", "seqs": [[first, last], ...]}     bodies of these readings
    {"why": "shed-media", "sha256": [...]}                      these media files
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.store.retention_class import class_days, days_of

PREFIX = "tombstone/"
DAY_S = 86_400.0
MAX_ITEMS = 100  # shas or ranges per tombstone, so a header stays a few kB
_SLACK_S = 60.0  # clock steps between a retention run and its record


def source_for(detail: Mapping[str, Any]) -> str:
    return PREFIX + json.dumps(detail, separators=(",", ":"), sort_keys=True, allow_nan=False)


def parse_source(source: str) -> dict[str, Any] | None:
    """The detail of a tombstone's source, or None when the record is no tombstone."""
    if not source.startswith(PREFIX):
        return None
    try:
        detail = json.loads(source[len(PREFIX):])
    except ValueError:
        return None
    return detail if isinstance(detail, dict) else None


def ranges(seqs: Iterable[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for s in seqs:
        if out and out[-1][1] == s - 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


def details(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """`detail` split so no tombstone lists more than MAX_ITEMS shas or ranges."""
    for key in ("sha256", "seqs"):
        values = detail.get(key)
        if isinstance(values, list) and len(values) > MAX_ITEMS:
            return [{**detail, key: values[i:i + MAX_ITEMS]}
                    for i in range(0, len(values), MAX_ITEMS)]
    return [detail]


@dataclass
class Explainer:
    """Collects tombstones, then says whether each absence is explained (and why not)."""

    retention_days: Mapping[str, float] | None = None
    cutoffs: dict[str, float] = field(default_factory=dict)  # latest claimed, per class
    shredded: dict[int, float] = field(default_factory=dict)  # epoch -> retention time
    shed_seqs: list[tuple[int, int]] = field(default_factory=list)
    shed_media: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def add(self, seq: int, t_wall: float, detail: Mapping[str, Any]) -> None:
        """One tombstone record (its seq and its own, chained, wall time)."""
        why = detail.get("why")
        try:
            if why == "retention":
                at = float(detail["at"])
                if at > t_wall + _SLACK_S:
                    self.problems.append(f"tombstone {seq}: retention claims to have run at "
                                         f"{at:.0f}, after its own record ({t_wall:.0f})")
                for cls, value in dict(detail.get("cutoffs", {})).items():
                    cutoff = float(value)
                    self._check_cutoff(seq, at, str(cls), cutoff)
                    self.cutoffs[str(cls)] = max(self.cutoffs.get(str(cls), cutoff), cutoff)
                for epoch in detail.get("shredded", []):
                    self.shredded[int(epoch)] = at
            elif why == "shed-readings":
                self.shed_seqs.extend((int(a), int(b)) for a, b in detail.get("seqs", []))
            elif why == "shed-media":
                self.shed_media.update(str(s) for s in detail.get("sha256", []))
            else:
                self.problems.append(f"tombstone {seq}: unknown reason {why!r}")
        except (KeyError, TypeError, ValueError):
            self.problems.append(f"tombstone {seq}: malformed detail")

    def _check_cutoff(self, seq: int, at: float, cls: str, cutoff: float) -> None:
        if self.retention_days is None:
            return
        days = days_of(self.retention_days, cls)
        if days <= 0:
            self.problems.append(f"tombstone {seq}: expired {cls} records, which the "
                                 "configured retention keeps forever")
        elif cutoff > at - days * DAY_S + _SLACK_S:
            self.problems.append(
                f"tombstone {seq}: expired {cls} records up to {(at - cutoff) / DAY_S:.1f} "
                f"days old; the configured retention keeps them {days:g} days")

    def body_gone(self, seq: int, cls: str, t_wall: float) -> str | None:
        """Why a record's missing body is not explained, or None when it is (`cls`: the
        record's retention class, retention_class.class_of)."""
        if t_wall < self.cutoffs.get(cls, float("-inf")):
            return None
        if cls == "reading" and any(a <= seq <= b for a, b in self.shed_seqs):
            return None
        return (f"record {seq} ({cls}): body missing, but no tombstone explains it (not "
                "expired under retention, not shed)")

    def media_gone(self, seq: int, sha: str, state: str, cls: str, t_wall: float) -> str | None:
        if state == "shed" and sha in self.shed_media:
            return None
        if state == "expired" and t_wall < self.cutoffs.get(cls, float("-inf")):
            return None
        return (f"media {sha[:16]}.. (record {seq}): marked {state!r}, but no tombstone "
                "explains its removal")

    def epoch_gone(self, epoch: int, end_t_wall: float | None) -> str | None:
        """Why a shredded epoch is not explained; its end seal's time bounds its age."""
        at = self.shredded.get(epoch)
        if at is None:
            return (f"epoch {epoch}: marked shredded (records gone), but no retention "
                    "tombstone names it")
        if self.retention_days is not None and end_t_wall is not None:
            kept = [d for d in class_days(self.retention_days).values() if d > 0]
            least = min(kept) if kept else None
            if least is None or at - end_t_wall < least * DAY_S - _SLACK_S:
                return (f"epoch {epoch}: shredded {max(0.0, at - end_t_wall) / DAY_S:.1f} "
                        f"days after it ended; the configured retention keeps records at "
                        f"least {least or 0:g} days")
        return None
