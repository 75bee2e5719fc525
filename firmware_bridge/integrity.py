"""Per-node link integrity, sans-IO: lost frames, lag and forged frames in sliding windows.

What authentication cannot see: a relay that drops or delays authentic frames. Every
accepted frame reports the counters it skipped (a dropped frame leaves a gap the node's
counter cannot hide) and, when it carries one, the node's own clock (set from WELCOME in
controller time, so `arrival - node time` is how long the frame was on its way). Frames
that fail verification under a node's uid are counted as forged. Time is passed in
(seconds); counts are kept in one-second buckets so a frame costs a few operations.

Counter gaps are per session, and a relay that drops frames and then makes the node
start a new session (a forged HELLO_REQUEST) would hide the gap at the change. The node's
STATUS (every 10 s) says how many session frames it has sent since boot, across sessions;
comparing that with the authentic frames received in between finds what the gaps missed.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class IntegrityLimits:
    """When a node's link is suspect (the `[serial]` keys of the same names)."""

    lost_frames_window_s: float = 60.0
    max_lost_frames: int = 2  # more lost in the window raises a `link` alarm
    lag_window_s: float = 10.0
    max_lag_ms: float = 2000.0  # the window's smallest lag above this raises one
    attack_window_s: float = 10.0
    attack_min_forged: int = 5  # forged frames in the window that mark an attack


class _Buckets:
    """Per-second buckets combined by sum or min over a window; bounded by the window."""

    __slots__ = ("_items", "_keep")

    def __init__(self, window_s: float) -> None:
        self._keep = max(1, math.ceil(window_s))
        self._items: collections.deque[list[float]] = collections.deque()

    def add(self, now: float, value: float, combine: str) -> None:
        second = math.floor(now)
        items = self._items
        if items and items[-1][0] == second:
            last = items[-1]
            last[1] = last[1] + value if combine == "sum" else min(last[1], value)
        else:
            items.append([second, value])
            while len(items) > self._keep + 1:
                items.popleft()

    def _recent(self, now: float) -> list[float]:
        cutoff = math.floor(now) - self._keep
        return [v for s, v in self._items if s > cutoff]

    def total(self, now: float) -> float:
        return sum(self._recent(now))

    def minimum(self, now: float) -> float | None:
        recent = self._recent(now)
        return min(recent) if recent else None


class LinkIntegrity:
    """The integrity figures of one node's link."""

    def __init__(self, limits: IntegrityLimits) -> None:
        self.limits = limits
        self.lost_total = 0
        self.forged_total = 0
        self._lost = _Buckets(limits.lost_frames_window_s)
        self._lag = _Buckets(limits.lag_window_s)
        self._forged = _Buckets(limits.attack_window_s)
        self._received = 0  # authentic session frames, every session
        self._gaps_since_status = 0
        self._status_base: tuple[int, int] | None = None  # (node's frames_sent, received)
        self._port_was_lent = False  # the service closed the port itself: see port_lent

    def port_lent(self) -> None:
        """The service closed the node's port itself (lent to pairing, e.g. a key rotation
        the node refused): what the node sent meanwhile was not read, by design. The first
        gap after it and the STATUS count across it are no sign of a bad link."""
        self._port_was_lent = True
        self._status_base = None
        self._gaps_since_status = 0

    def accepted(self, now: float, lost_frames: int, node_time_ms: int | None,
                 wall_ms: float) -> None:
        """An authentic session frame arrived at `now` (monotonic s) / `wall_ms` (Unix ms)."""
        self._received += 1
        if self._port_was_lent:  # the first frame after the port came back
            self._port_was_lent = False
            lost_frames = 0
        self._gaps_since_status += lost_frames
        if lost_frames:
            self.lost_total += lost_frames
            self._lost.add(now, lost_frames, "sum")
        if node_time_ms is not None:
            self._lag.add(now, wall_ms - node_time_ms, "min")

    def status_report(self, now: float, frames_sent: int) -> None:
        """The node's STATUS said it sent `frames_sent` session frames before this one.

        Frames it sent since the previous STATUS that neither arrived nor left a counter
        gap were lost where no gap could show them (at a session change): counted too.
        """
        base = self._status_base
        self._status_base = (frames_sent, self._received)
        gaps, self._gaps_since_status = self._gaps_since_status, 0
        if base is None or frames_sent < base[0]:
            return  # the first STATUS, or the node rebooted
        hidden = (frames_sent - base[0]) - (self._received - base[1]) - gaps
        if hidden > 0:
            self.lost_total += hidden
            self._lost.add(now, hidden, "sum")

    def forged(self, now: float) -> None:
        """A frame under this node's uid failed verification (or was a replay)."""
        self.forged_total += 1
        self._forged.add(now, 1, "sum")

    def lost_in_window(self, now: float) -> int:
        return max(0, int(self._lost.total(now)))

    def lag_ms(self, now: float) -> float | None:
        """The smallest lag in the window: a controller stall's backlog does not count,
        a relay that holds every frame does."""
        return self._lag.minimum(now)

    def forged_in_window(self, now: float) -> int:
        return int(self._forged.total(now))

    def under_attack(self, now: float) -> bool:
        return self.forged_in_window(now) >= self.limits.attack_min_forged

    def problems(self, now: float) -> list[str]:
        """What is wrong with the link now, in words (empty when nothing is)."""
        out = []
        lost = self.lost_in_window(now)
        if lost > self.limits.max_lost_frames:
            out.append(f"{lost} frames lost in {self.limits.lost_frames_window_s:g} s")
        lag = self.lag_ms(now)
        if lag is not None and lag > self.limits.max_lag_ms:
            out.append(f"frames {lag:.0f} ms late")
        forged = self.forged_in_window(now)
        if forged >= self.limits.attack_min_forged:
            out.append(f"{forged} forged frames in {self.limits.attack_window_s:g} s")
        return out
