"""The plate stage of one camera: one plate read per vehicle track, off the camera thread.

The camera thread calls :meth:`PlateStage.observe` with each frame's live tracks; it only
decides and copies a crop (a track's first frame, then frames at least as promising as
the best sent so far, detection score times box size, at most `plate_attempts` per
track) and puts it on a bounded queue, dropping and counting when the queue is full,
so it never waits on OCR.
The stage's own thread reads each crop and votes across the track's reads
(:class:`PlateVote`); a track gets its one read when the vote settles, or when the track
ends with at least one read. In gate mode the whole frame is the vehicle.

A stage made with `load` loads its reader on its own thread (the OCR models take seconds):
until then its state is `loading` and crops wait in the bounded queue; a reader that cannot
be loaded (a missing model file) leaves the stage `unavailable`, with the reason, and the
camera runs on without plates.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from controller.config import CameraConfig
from controller.errors import EdgewardenError
from controller.plates.reader import PlateRead
from controller.plates.voting import PlateVote

log = logging.getLogger("plates")

Image = npt.NDArray[np.uint8]
#: a live track as the camera sees it: id, label, box (normalised 0..1), detection score
TrackView = tuple[int, str, tuple[float, float, float, float], float]
ReadFn = Callable[[Image], list[PlateRead]]
#: makes the reader (on the stage's thread); raises when it cannot (a missing model file)
LoadFn = Callable[[], ReadFn]
#: frames between two crops of one track whose promise did not improve
SPACING = 2


@dataclass(frozen=True)
class TrackPlate:
    """The one plate read of a vehicle track, with its pictures (BGR arrays)."""

    camera: str
    track_id: int
    label: str
    text: str
    confidence: float
    agreeing: int
    attempts: int
    first_seen: float
    read_at: float
    plate: Image
    vehicle: Image
    #: the plate's box in `vehicle`, pixels (x0, y0, x1, y1): `plate` is that region
    box: tuple[int, int, int, int]


@dataclass
class _Track:
    label: str
    first_seen: float
    vote: PlateVote
    sent: int = 0
    best_score: float = -1.0
    done: bool = False
    best_conf: float = -1.0
    plate: Image | None = None
    vehicle: Image | None = None
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    last_time: float = 0.0


@dataclass(frozen=True)
class _Job:
    track_id: int
    label: str
    first_seen: float
    crop: Image
    time: float


@dataclass
class PlateStats:
    """Counters shown in status: what was read, and what the full queue dropped."""

    offered: int = 0
    read: int = 0
    dropped: int = 0
    plates: int = 0
    failed: int = 0


_END = object()  # on the ends queue: stop once the queued crops are read
_WAKE = object()  # on the crop queue: look at the ends queue


class PlateStage:
    """Plate reads for one camera; `on_read` is called from the stage's thread."""

    def __init__(self, cfg: CameraConfig, read: ReadFn | None,
                 on_read: Callable[[TrackPlate], None], *, load: LoadFn | None = None,
                 on_state: Callable[[str, str | None], None] | None = None) -> None:
        if (read is None) == (load is None):
            raise ValueError("a plate stage needs exactly one of read and load")
        self.cfg = cfg
        self._read = read
        self._load = load
        self._on_read = on_read
        self._on_state = on_state
        #: "loading" (the reader is being made), "reading", or "unavailable" (see reason)
        self.state = "loading" if read is None else "reading"
        self.reason: str | None = None
        self._labels = frozenset(cfg.plate_labels)
        self._gate = cfg.plates_mode == "gate"
        self._queue: queue.Queue[object] = queue.Queue(
            cfg.plate_queue)
        self._ends: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._tracks: dict[int, _Track] = {}  # owned by the stage's thread
        self._live: dict[int, float] = {}  # owned by the camera thread: id -> best score sent
        self._sent: dict[int, int] = {}
        self._since: dict[int, int] = {}  # frames since a track's last crop was sent
        self._first: dict[int, float] = {}  # when a track was first offered
        self.stats = PlateStats()
        self._thread = threading.Thread(target=self._run, name=f"plates-{cfg.name}",
                                        daemon=True)
        self._started = False

    def start(self) -> None:
        self._started = True
        self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """End every live track (their reads are made) and stop the thread."""
        for track_id in list(self._live):
            self._ends.put((track_id, 0.0))
        self._live.clear()
        self._ends.put(_END)
        self._queue_wake()
        if self._started:
            self._thread.join(timeout)

    def summary(self) -> dict[str, Any]:
        """For status: crops offered, read, dropped by the full queue, reads made."""
        return {"mode": self.cfg.plates_mode, "state": self.state, "reason": self.reason,
                **asdict(self.stats)}

    # -------------------------------------------------------------- camera thread
    def observe(self, image: Image, tracks: Sequence[TrackView], t: float) -> None:
        """One frame and its live tracks; never blocks."""
        if self.state == "unavailable":
            return
        h, w = image.shape[:2]
        seen = set()
        for track_id, label, box, score in tracks:
            if not self._gate and label not in self._labels:
                continue
            seen.add(track_id)
            if score < 0:  # missed in this frame: still alive, its box is stale
                continue
            # a frame's promise: the detection's score times the box's share of the frame
            # (a vehicle coming closer grows); ties are sent too, SPACING frames apart
            quality = score * max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
            best = self._live.get(track_id)
            sent = self._sent.get(track_id, 0)
            since = self._since.get(track_id, SPACING)
            self._since[track_id] = since + 1
            if sent >= self.cfg.plate_attempts or (best is not None and (
                    quality < best or since < SPACING)):
                continue
            if self._gate:
                x0, y0, x1, y1 = 0, 0, w, h
            else:
                x0, y0 = max(0, int(box[0] * w)), max(0, int(box[1] * h))
                x1, y1 = min(w, int(box[2] * w) + 1), min(h, int(box[3] * h) + 1)
            if min(x1 - x0, y1 - y0) < self.cfg.plate_min_box_px:
                continue
            self.stats.offered += 1
            first = self._first.setdefault(track_id, t)
            job = _Job(track_id, label, first, np.ascontiguousarray(image[y0:y1, x0:x1]).copy(),
                       t)
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                self.stats.dropped += 1  # a later, better frame may still be sent
                self._live.setdefault(track_id, -1.0)
                continue
            self._live[track_id] = quality
            self._sent[track_id] = sent + 1
            self._since[track_id] = 0
        for track_id in [tid for tid in self._since if tid not in seen]:
            del self._since[track_id]
        for track_id in [tid for tid in self._live if tid not in seen]:
            del self._live[track_id]
            self._sent.pop(track_id, None)
            self._since.pop(track_id, None)
            self._first.pop(track_id, None)
            self._ends.put((track_id, t))
            self._queue_wake()

    def _queue_wake(self) -> None:
        # a full queue: the worker is busy and looks at the ends after this job
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_WAKE)

    # -------------------------------------------------------------- stage thread
    def _run(self) -> None:
        if self._read is None and not self._load_reader():
            return
        stopping = False
        while True:
            stopping = self._drain_ends() or stopping
            if stopping and self._queue.empty():
                break
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if isinstance(item, _Job):
                self._handle(item)
        for track_id in list(self._tracks):
            self._finish(track_id)

    def _load_reader(self) -> bool:
        """Make the reader; False (the stage unavailable, saying why) when it cannot."""
        assert self._load is not None
        try:
            self._read = self._load()
        except Exception as exc:  # a missing or broken model must not end the camera
            self.reason = str(exc) if isinstance(exc, EdgewardenError) else (
                f"plate reader not loaded: {type(exc).__name__}: {exc}")
            self.state = "unavailable"
            log.error("camera %s: no plate reads: %s", self.cfg.name, self.reason)
            with contextlib.suppress(queue.Empty):
                while True:  # the crops offered while loading are never read
                    self._queue.get_nowait()
        else:
            self.state = "reading"
        if self._on_state is not None:
            try:
                self._on_state(self.state, self.reason)
            except Exception:
                log.exception("camera %s: plate state not handed on", self.cfg.name)
        return self.state == "reading"

    def _drain_ends(self) -> bool:
        stopping = False
        deferred: list[tuple[int, float]] = []
        while True:
            try:
                item = self._ends.get_nowait()
            except queue.Empty:
                for end in deferred:
                    self._ends.put(end)
                return stopping
            if item is _END:
                stopping = True
            elif isinstance(item, tuple):
                # the track's jobs still queued are read first: end it once they are
                track_id = int(item[0])
                if any(isinstance(j, _Job) and j.track_id == track_id
                       for j in list(self._queue.queue)):
                    deferred.append((track_id, 0.0))  # look again after the next job
                else:
                    self._finish(track_id)

    def _handle(self, job: _Job) -> None:
        track = self._tracks.get(job.track_id)
        if track is None:
            track = self._tracks[job.track_id] = _Track(
                job.label, job.first_seen,
                PlateVote(self.cfg.plate_agree, self.cfg.plate_attempts))
        if track.done or track.vote.settled:
            return
        assert self._read is not None
        try:
            reads = self._read(job.crop)
        except Exception:  # one bad crop must not end the stage
            log.exception("camera %s: plate read failed", self.cfg.name)
            self.stats.failed += 1
            reads = []
        self.stats.read += 1
        read = reads[0] if reads else None
        track.last_time = job.time
        if read is not None and read.confidence > track.best_conf:
            x0, y0, x1, y1 = read.box
            track.best_conf = read.confidence
            track.plate = job.crop[y0:y1, x0:x1].copy()
            track.vehicle = job.crop
            track.box = (x0, y0, x1, y1)
        verdict = track.vote.add(read.text if read else "", read.confidence if read else 0.0)
        if verdict is not None:
            self._emit(job.track_id, track)

    def _finish(self, track_id: int) -> None:
        track = self._tracks.pop(track_id, None)
        if track is not None and not track.done:
            self._emit(track_id, track)

    def _emit(self, track_id: int, track: _Track) -> None:
        track.done = True
        verdict = track.vote.verdict()
        if verdict is None or track.plate is None or track.vehicle is None:
            return
        self.stats.plates += 1
        plate = TrackPlate(self.cfg.name, track_id, track.label, verdict.text,
                           verdict.confidence, verdict.agreeing, verdict.attempts,
                           track.first_seen, track.last_time, track.plate, track.vehicle,
                           track.box)
        try:
            self._on_read(plate)
        except Exception:
            log.exception("camera %s: plate read not handed on", self.cfg.name)
