"""Refusals audited at a bounded rate, sans-IO: the first few one by one, the rest counted.

A caller without a role (or one flooding bad requests) can cause refusals as fast as the
socket takes them; one sealed audit record each would let him fill the store (20,000
refusals were 14 MB). Per caller uid and interval the first `per_interval` refusals are
audited individually, the rest are counted by reason and handed out once per interval as
one summary.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field


@dataclass
class _Window:
    started: float
    audited: int = 0
    gid: int = 0
    pid: int = 0
    role: str | None = None
    suppressed: collections.Counter[str] = field(default_factory=collections.Counter)


@dataclass(frozen=True)
class RefusalSummary:
    uid: int
    gid: int
    pid: int
    role: str | None
    since: float
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def text(self, until: float) -> str:
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(self.counts.items()))
        return (f"{self.total} further refusals in {until - self.since:.0f} s, "
                f"not audited one by one: {reasons}")


class RefusalLimiter:
    def __init__(self, interval_s: float = 10.0, per_interval: int = 10,
                 max_callers: int = 256) -> None:
        self.interval_s = interval_s
        self.per_interval = per_interval
        self.max_callers = max_callers
        self._windows: dict[int, _Window] = {}

    def admit(self, uid: int, gid: int, pid: int, role: str | None, reason: str,
              now: float) -> bool:
        """True: audit this refusal now; False: it was counted into the next summary."""
        w = self._windows.get(uid)
        if w is None:
            if len(self._windows) >= self.max_callers:  # uids are few; bound them anyway
                uid = -1
                w = self._windows.setdefault(uid, _Window(now))
            else:
                w = self._windows[uid] = _Window(now)
        if w.audited < self.per_interval:
            w.audited += 1
            return True
        w.gid, w.pid, w.role = gid, pid, role
        w.suppressed[reason] += 1
        return False

    def due(self, now: float, force: bool = False) -> list[RefusalSummary]:
        """Summaries of the windows that ended (all with `force`); ended windows restart."""
        out = []
        for uid, w in list(self._windows.items()):
            if not force and now - w.started < self.interval_s:
                continue
            del self._windows[uid]
            if w.suppressed:
                out.append(RefusalSummary(uid, w.gid, w.pid, w.role, w.started,
                                          dict(w.suppressed)))
        return out
