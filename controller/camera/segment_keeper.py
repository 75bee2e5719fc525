"""Which video segments are kept (pure; no I/O, no clock).

Recording modes per camera:

- ``continuous``: every segment is kept.
- ``events`` (the default): a segment is kept only when it overlaps an event's time range
  widened by pre- and post-roll. Closed segments wait in a short pending list (long enough
  for the pre-roll of an event that starts later) and are kept or forgotten from there.
- ``off``: nothing is encoded (the camera still detects).

A segment is kept at most once, however many events it overlaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Literal, Protocol, TypeVar

RecordingMode = Literal["events", "continuous", "off"]
RECORDING_MODES: tuple[RecordingMode, ...] = ("events", "continuous", "off")


class Span(Protocol):
    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...


S = TypeVar("S", bound=Span)


@dataclass
class SegmentKeeper(Generic[S]):
    """Decides per closed segment; ``slack_s`` is how much longer than the pre-roll a
    closed segment waits for an event (tracks are confirmed a few frames after they
    start, so an event's start lies a little in the past when it is announced)."""

    mode: RecordingMode
    pre_roll_s: float
    post_roll_s: float
    slack_s: float = 10.0
    _pending: list[S] = field(default_factory=list)
    _wanted: list[tuple[float, float]] = field(default_factory=list)
    _now: float = float("-inf")

    def __post_init__(self) -> None:
        if self.mode not in RECORDING_MODES:
            raise ValueError(f"recording mode must be one of {', '.join(RECORDING_MODES)}")
        if self.pre_roll_s < 0 or self.post_roll_s < 0 or self.slack_s < 0:
            raise ValueError("pre_roll_s, post_roll_s and slack_s must not be negative")

    @property
    def pending(self) -> list[S]:
        return list(self._pending)

    def offer(self, segment: S) -> list[S]:
        """A segment was closed: the segments to keep now, oldest first."""
        if self.mode == "off":
            return []
        if self.mode == "continuous":
            return [segment]
        self._now = max(self._now, segment.end)
        self._pending.append(segment)
        return self._take()

    def want(self, start: float, until: float) -> list[S]:
        """An event covers ``start``..``until`` (so far): keep its pre- and post-roll too.
        Returns pending segments that became kept."""
        if until < start:
            raise ValueError("an event cannot end before it starts")
        lo, hi = start - self.pre_roll_s, until + self.post_roll_s
        self._wanted.append((lo, hi))
        self._merge()
        return self._take() if self.mode == "events" else []

    def _merge(self) -> None:
        out: list[tuple[float, float]] = []
        for lo, hi in sorted(self._wanted):
            if out and lo <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], hi))
            else:
                out.append((lo, hi))
        self._wanted = out

    def _overlaps(self, s: S) -> bool:
        return any(s.start < hi and s.end > lo for lo, hi in self._wanted)

    def _take(self) -> list[S]:
        keep = [s for s in self._pending if self._overlaps(s)]
        horizon = self._now - self.pre_roll_s - self.slack_s
        self._pending = [s for s in self._pending
                         if not self._overlaps(s) and s.end >= horizon]
        self._wanted = [(lo, hi) for lo, hi in self._wanted if hi >= horizon]
        return keep
