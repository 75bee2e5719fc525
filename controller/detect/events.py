"""Events (pure): one tracked object in one zone makes one event, not one per frame."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Protocol

from controller.camera.media import MediaRef
from controller.detect.regions import Zones
from controller.detect.tracker import Track, TrackerUpdate, TrackPoint


@dataclass(frozen=True)
class DetectionEvent:
    """A finished event, as handed to the record store.

    ``snapshot_jpeg`` is the privacy-masked frame of the best score; ``clip`` the
    privacy-masked recording with pre- and post-roll (``clip_format`` "mp4" or
    "h264"). Both are plaintext bytes in memory only: the store encrypts them.
    """

    camera: str
    zone: str
    label: str
    track_id: int
    start: float
    end: float
    best_score: float
    best_time: float
    track: tuple[TrackPoint, ...]
    snapshot_jpeg: bytes | None = None
    clip: bytes | None = None
    clip_format: str | None = None
    continued: bool = False  # the object was already there: an earlier event was cut
    continues: bool = False  # cut at the clip limit: the object is still there
    # the recorded segments covering start - pre-roll .. end + post-roll (each stored once,
    # shared by every event that overlaps it) and the time range they span
    segments: tuple[MediaRef, ...] = ()
    recorded_from: float | None = None
    recorded_to: float | None = None
    # the id its live notices carried (fixed when the event started), if it had any
    announced_id: str | None = None

    @property
    def event_id(self) -> str:
        if self.announced_id is not None:
            return self.announced_id
        return f"{self.camera}/{self.zone}/{self.start:.3f}/{self.track_id}"

    def summary(self) -> dict[str, object]:
        """What `detect --jsonl`/logs show: no media bytes."""
        return {
            "camera": self.camera, "zone": self.zone, "label": self.label,
            "track_id": self.track_id, "start": round(self.start, 3),
            "end": round(self.end, 3), "best_score": round(self.best_score, 4),
            "points": len(self.track),
            "snapshot_bytes": len(self.snapshot_jpeg or b""),
            "clip_bytes": len(self.clip or b""),
            "continued": self.continued, "continues": self.continues,
            "best_box": self.best_box(),
            "segments": [m.sha256 for m in self.segments],
            "recorded_from": _round(self.recorded_from),
            "recorded_to": _round(self.recorded_to),
        }

    def best_box(self) -> list[float] | None:
        """The box of the best-scored point (the snapshot's frame), normalised 0..1."""
        if not self.track:
            return None
        best = min(self.track, key=lambda p: (abs(p.time - self.best_time), -p.score))
        return [round(float(v), 4) for v in best.box]

    def notice(self) -> dict[str, object]:
        """The live "detection" event of the control socket and a camera's last detection
        in status: what the TUI shows (label, score, time) plus where it was seen."""
        return {"camera": self.camera, "zone": self.zone, "label": self.label,
                "track_id": self.track_id, "score": round(self.best_score, 3),
                "time": self.end, "start": self.start, "continues": self.continues,
                "phase": "end", "event_id": self.event_id}

    def __repr__(self) -> str:  # media bytes stay out of logs and tracebacks
        return f"DetectionEvent({self.summary()!r})"

    def shifted(self, offset: float) -> DetectionEvent:
        """The same event with every time moved by ``offset`` seconds.

        The pipeline runs on frame times (a monotonic clock for live cameras, the position
        in a file for recordings); records and the TUI need wall-clock times.
        """
        return replace(
            self, start=self.start + offset, end=self.end + offset,
            best_time=self.best_time + offset,
            recorded_from=None if self.recorded_from is None else self.recorded_from + offset,
            recorded_to=None if self.recorded_to is None else self.recorded_to + offset,
            track=tuple(TrackPoint(p.time + offset, p.box, p.score) for p in self.track),
        )


def _round(t: float | None) -> float | None:
    return None if t is None else round(t, 3)


def live_notice(camera: str, event: OpenEvent, label: str, time: float,
                phase: str) -> dict[str, object]:
    """The live "detection" notice of an event still going on (``phase`` "start" or
    "update"); the same fields as :meth:`DetectionEvent.notice`, which ends it."""
    return {"camera": camera, "zone": event.zone, "label": label,
            "track_id": event.track_id, "score": round(event.best_score, 3),
            "time": time, "start": event.start, "continues": False, "phase": phase,
            "event_id": f"{camera}/{event.zone}/{event.start:.3f}/{event.track_id}"}


class EventSink(Protocol):
    """Where finished events go (the record store, a test list, the CLI summary)."""

    def on_event(self, event: DetectionEvent) -> None: ...


@dataclass
class ListSink:
    """Keeps events in memory (tests, `edgewarden detect`)."""

    events: list[DetectionEvent] = field(default_factory=list)

    def on_event(self, event: DetectionEvent) -> None:
        self.events.append(event)


@dataclass
class OpenEvent:
    """An event still going on; ``best_time`` names the frame to snapshot."""

    track_id: int
    zone: str
    start: float
    last_seen: float
    best_score: float
    best_time: float
    improved: bool = True
    points: list[TrackPoint] = field(default_factory=list)
    continued: bool = False


class EventBuilder:
    """Turns tracker updates into events per (track, zone)."""

    def __init__(self, camera: str, zones: Zones) -> None:
        self.camera = camera
        self.zones = zones
        self._open: dict[tuple[int, str], OpenEvent] = {}

    @property
    def open_events(self) -> list[OpenEvent]:
        return list(self._open.values())

    def update(self, update: TrackerUpdate, time: float) -> list[DetectionEvent]:
        """Feed one frame's tracker result; returns events that ended now.

        An event opens the first frame a confirmed track stands in a zone (its earlier
        points, from before it was confirmed, are part of it) and ends when the track
        ends. ``OpenEvent.improved`` is set when the best score rose in this frame.
        """
        for event in self._open.values():
            event.improved = False
        for track in update.active:
            for zone in self.zones.containing(track.box):
                key = (track.track_id, zone)
                found = self._open.get(key)
                if found is None:
                    best = max(track.points, key=lambda p: p.score)
                    self._open[key] = OpenEvent(
                        track.track_id, zone, track.first_seen, time, best.score, best.time,
                        True, list(track.points),
                    )
                    continue
                found.points.append(track.points[-1])
                found.last_seen = time
                if track.score > found.best_score:
                    found.best_score, found.best_time, found.improved = track.score, time, True
        return self.end(update.ended)

    def end(self, tracks: Iterable[Track]) -> list[DetectionEvent]:
        """Close the events of tracks that ended."""
        out: list[DetectionEvent] = []
        for track in tracks:
            for key in [k for k in self._open if k[0] == track.track_id]:
                event = self._open.pop(key)
                out.append(self._finished(event, track.label, track.last_seen))
        return out

    def cut(self, time: float, labels: dict[int, str]) -> list[DetectionEvent]:
        """Close every open event at ``time`` and open its continuation.

        An object that stays in view (a parked car, a busy road) would otherwise hold its
        event, and the clip, open forever: nothing would reach the records. Each cut
        event says ``continues``; the next one of the same track says ``continued``.
        """
        out = []
        for key, event in list(self._open.items()):
            out.append(self._finished(event, labels.get(event.track_id, "object"), time,
                                      continues=True))
            last = event.points[-1:] if event.points else []
            score = last[0].score if last else 0.0
            self._open[key] = OpenEvent(event.track_id, event.zone, time, time, score, time,
                                        True, list(last), continued=True)
        return out

    def _finished(self, event: OpenEvent, label: str, end: float,
                  continues: bool = False) -> DetectionEvent:
        return DetectionEvent(
            camera=self.camera, zone=event.zone, label=label, track_id=event.track_id,
            start=event.start, end=end, best_score=event.best_score,
            best_time=event.best_time, track=tuple(event.points),
            continued=event.continued, continues=continues,
        )


@dataclass
class ClipSchedule:
    """When the clip recorder runs: from the first open event until ``post_roll_s``
    after the last one ended (pre-roll comes from the recorder's ring buffer), and
    ``"cut"`` when a clip reaches ``max_clip_s`` with events still open (0 = no limit)."""

    post_roll_s: float
    max_clip_s: float = 0.0
    recording: bool = False
    _quiet_since: float | None = None
    _started: float = 0.0

    def step(self, open_events: int, time: float) -> str | None:
        """``"start"``, ``"stop"``, ``"cut"`` or None for this frame."""
        if open_events:
            self._quiet_since = None
            if not self.recording:
                self.recording = True
                self._started = time
                return "start"
            if self.max_clip_s and time - self._started >= self.max_clip_s:
                self._started = time
                return "cut"
            return None
        if not self.recording:
            return None
        if self._quiet_since is None:
            self._quiet_since = time
        if time - self._quiet_since >= self.post_roll_s:
            self.recording = False
            self._quiet_since = None
            return "stop"
        return None


