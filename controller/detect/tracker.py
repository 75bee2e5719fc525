"""IoU tracker (pure): per-frame detections -> objects with stable ids.

Matching is greedy on IoU and ignores the label, because a small quantised model
often flips between related classes (sedan / pickup) on the same vehicle; a track's
label is the one with the highest summed score over its life.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from controller.detect.detection import Box, Detection, iou


@dataclass(frozen=True)
class TrackPoint:
    time: float
    box: Box
    score: float


@dataclass
class Track:
    """One object followed across frames."""

    track_id: int
    first_seen: float
    last_seen: float
    box: Box
    score: float
    hits: int = 1
    missed: int = 0
    points: list[TrackPoint] = field(default_factory=list)
    label_scores: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return max(self.label_scores.items(), key=lambda kv: (kv[1], kv[0]))[0]

    def moved_since(self, steps: int, min_shift: float) -> bool:
        """Did the box centre move more than ``min_shift`` over the last ``steps`` points?"""
        if len(self.points) < 2:
            return False
        a, b = self.points[max(0, len(self.points) - 1 - steps)].box, self.points[-1].box
        dx = (a[0] + a[2]) / 2 - (b[0] + b[2]) / 2
        dy = (a[1] + a[3]) / 2 - (b[1] + b[3]) / 2
        return (dx * dx + dy * dy) ** 0.5 > min_shift

    def _add(self, detection: Detection, time: float) -> None:
        self.box = detection.box
        self.score = detection.score
        self.last_seen = time
        self.points.append(TrackPoint(time, detection.box, detection.score))
        self.label_scores[detection.label] = (
            self.label_scores.get(detection.label, 0.0) + detection.score
        )


@dataclass(frozen=True)
class TrackerUpdate:
    """After one frame: tracks seen in it (confirmed only) and tracks that ended."""

    active: list[Track]
    ended: list[Track]


class IouTracker:
    """Greedy IoU matching; a track ends after ``max_missed`` frames without a match."""

    def __init__(self, iou_match: float = 0.3, max_missed: int = 10, min_hits: int = 2) -> None:
        self.iou_match = iou_match
        self.max_missed = max_missed
        self.min_hits = min_hits
        self._tracks: list[Track] = []
        self._next_id = 1

    @property
    def tracks(self) -> list[Track]:
        """Live tracks, confirmed or not."""
        return list(self._tracks)

    def confirmed(self, track: Track) -> bool:
        return track.hits >= self.min_hits

    def update(self, detections: Sequence[Detection], time: float) -> TrackerUpdate:
        pairs = sorted(
            (
                (iou(t.box, d.box), ti, di)
                for ti, t in enumerate(self._tracks)
                for di, d in enumerate(detections)
            ),
            reverse=True,
        )
        used_t: set[int] = set()
        used_d: set[int] = set()
        for overlap, ti, di in pairs:
            if overlap < self.iou_match:
                break
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            track = self._tracks[ti]
            track.hits += 1
            track.missed = 0
            track._add(detections[di], time)
        ended: list[Track] = []
        survivors: list[Track] = []
        for ti, track in enumerate(self._tracks):
            if ti not in used_t:
                track.missed += 1
                if track.missed > self.max_missed:
                    if self.confirmed(track):
                        ended.append(track)
                    continue
            survivors.append(track)
        for di, detection in enumerate(detections):
            if di in used_d:
                continue
            track = Track(self._next_id, time, time, detection.box, detection.score)
            track._add(detection, time)
            self._next_id += 1
            survivors.append(track)
        self._tracks = survivors
        active = [t for t in survivors if t.missed == 0 and self.confirmed(t)]
        return TrackerUpdate(active=active, ended=ended)

    def end_all(self) -> list[Track]:
        """End every track (end of input, or the detector stops): confirmed ones returned."""
        ended = [t for t in self._tracks if self.confirmed(t)]
        self._tracks = []
        return ended

    def any_moving(self, steps: int = 5, min_shift: float = 0.01) -> bool:
        return any(self.confirmed(t) and t.moved_since(steps, min_shift) for t in self._tracks)
