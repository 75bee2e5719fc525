"""Refused frames summarised per interval, sans-IO: one record per port and interval.

A forger on the wire can send ~1,000 frames a second; one record each would let him fill
the store. Instead the counts by (node, reason) are kept per port and handed out once per
`interval_s` as one summary, which the service stores as a `link` record. Memory is
bounded: at most `max_sources` distinct nodes per port are named, the rest are "other".
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

from firmware_bridge.reasons import RejectReason

NO_NODE = "-"  # a frame that named no node (framing errors)
OTHER_NODES = "other"


@dataclass
class _PortCounts:
    since_wall: float
    counts: dict[str, collections.Counter[str]] = field(default_factory=dict)
    total: int = 0


class RejectSummary:
    """Counts refusals; :meth:`due` returns the summaries whose interval has ended."""

    def __init__(self, interval_s: float = 60.0, max_sources: int = 32) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        self.interval_s = interval_s
        self.max_sources = max_sources
        self._ports: dict[str, _PortCounts] = {}

    def add(self, port: str, uid: str | None, reason: RejectReason, wall: float) -> None:
        pc = self._ports.get(port)
        if pc is None:
            pc = self._ports[port] = _PortCounts(since_wall=wall)
        source = uid or NO_NODE
        counter = pc.counts.get(source)
        if counter is None:
            if len(pc.counts) >= self.max_sources:
                source = OTHER_NODES
                counter = pc.counts.setdefault(source, collections.Counter())
            else:
                counter = pc.counts[source] = collections.Counter()
        counter[reason.value] += 1
        pc.total += 1

    def due(self, wall: float, force: bool = False) -> list[dict[str, Any]]:
        """Summaries of ports whose interval has passed (all of them with `force`)."""
        out = []
        for port, pc in list(self._ports.items()):
            if not force and wall - pc.since_wall < self.interval_s:
                continue
            del self._ports[port]
            out.append({
                "what": "rejected_frames",
                "port": port,
                "from": pc.since_wall,
                "to": wall,
                "total": pc.total,
                "by_node": {src: dict(c) for src, c in sorted(pc.counts.items())},
            })
        return out
