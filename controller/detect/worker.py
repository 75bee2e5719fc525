"""One thread per camera: capture -> detection pipeline -> events into the record store.

Inference releases the GIL, so a camera thread does not stall the service's loop. A
camera that is down is reopened by :class:`ReconnectingCamera` with backoff; its state
changes reach the service through `on_status`, which turns them into health alarms.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from controller.camera.reconnect import CameraStatus, open_camera
from controller.camera.recording import SegmentStore, make_segment_recorder
from controller.camera.segments import EncodedSegment
from controller.camera.source import CameraDown
from controller.camera.tamper import FAULTS, TamperDetector, scene_features
from controller.config import CameraConfig, DetectConfig
from controller.detect.detector import open_detector
from controller.detect.events import DetectionEvent
from controller.detect.pipeline import DetectionPipeline

log = logging.getLogger("camera")

EventHandler = Callable[[DetectionEvent], None]
StatusHandler = Callable[[CameraStatus], None]
LiveHandler = Callable[[dict[str, Any]], None]
TamperHandler = Callable[[str, dict[str, bool], float], None]  # camera, fault -> raised, t
TAMPER_REPORT_S = 1.0  # fault states reach the alarm desk at least this often
_MAX_OPEN_IDS = 1000  # events announced and not yet recorded (bounded)


class FrameObserver(Protocol):
    """A later stage that looks at each frame's live tracks (the plate stage); never blocks.

    Tracks are (id, label, box normalised 0..1, score); a track not seen in this frame
    (missed) comes with score -1. """

    def observe(self, image: Any, tracks: list[tuple[int, str, tuple[float, float, float,
                                                                    float], float]],
                t: float) -> None: ...

    def close(self) -> None: ...

    def summary(self) -> dict[str, Any]: ...


class CameraWorker:
    def __init__(
        self,
        cfg: CameraConfig,
        detect: DetectConfig,
        on_event: EventHandler,
        on_status: StatusHandler,
        segment_store: SegmentStore | None = None,
        on_live: LiveHandler | None = None,
        on_tamper: TamperHandler | None = None,
        observer: FrameObserver | None = None,
    ) -> None:
        self.cfg = cfg
        self._observer = observer
        self._segment_store = segment_store
        self._on_live = on_live
        self._event_ids: dict[str, str] = {}  # frame-time event id -> the id announced
        self._on_tamper = on_tamper
        self.tamper = TamperDetector(cfg.tamper) if cfg.tamper.enabled and on_tamper else None
        self._tamper_previous: Any = None
        self._tamper_reported = float("-inf")
        self.detect = detect
        self._on_event = on_event
        self._on_status = on_status
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"camera-{cfg.name}", daemon=True)
        self.last_detection: dict[str, Any] | None = None
        self.camera = open_camera(cfg, on_change=on_status)
        self.pipeline: DetectionPipeline | None = None
        self.detector_family = "motion-only"
        self.error: str | None = None
        self._wall_offset = 0.0  # wall clock minus the frame time of the frame in process

    @property
    def status(self) -> dict[str, Any]:
        s = self.camera.status
        stats = self.pipeline.stats if self.pipeline else None
        return {
            "name": self.cfg.name,
            "source": self.cfg.source if "://" not in self.cfg.source else "(stream)",
            "state": "ended" if self.camera.finished else "down" if s.down else "up",
            "reason": s.reason or self.error,
            "frames": s.frames,
            "dropped": s.dropped,
            "reopen_attempts": s.reopen_attempts,
            "detector": self.detector_family,
            "detector_runs": getattr(stats, "detector_runs", None),
            "last_detection": self.last_detection,
            "recording": self.cfg.recording,
            "tamper": {"state": "off"} if self.tamper is None else {
                "state": "watching" if self.tamper.learned else "learning",
                "active": self.tamper.active()},
            "codec": self.pipeline.segments.codec
            if self.pipeline and self.pipeline.segments else None,
            "plates": self._observer.summary() if self._observer is not None else None,
        }

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def on_event(self, event: DetectionEvent) -> None:
        """An event from the pipeline, in frame time: handed on in wall-clock time."""
        announced = self._event_ids.pop(event.event_id, None)
        event = replace(event.shifted(self._wall_offset), announced_id=announced)
        if self._on_live is None:  # with live notices, last_detection follows those
            self.last_detection = event.notice()
        self._on_event(event)

    def on_live(self, notice: dict[str, Any]) -> None:
        """An event starting, going on or ending (frame time): handed on in wall-clock time."""
        notice = {**notice}
        for key in ("time", "start"):
            value = notice.get(key)
            if isinstance(value, float | int):
                notice[key] = float(value) + self._wall_offset
        # the id is made once, in wall-clock time, when the event starts: the offset
        # between frame and wall clock moves a little with every frame
        frame_id = str(notice.get("event_id"))
        wall_id = self._event_ids.get(frame_id)
        if wall_id is None:
            wall_id = self._event_ids[frame_id] = (
                f"{notice['camera']}/{notice['zone']}/{float(notice['start']):.3f}/"
                f"{notice['track_id']}")
            while len(self._event_ids) > _MAX_OPEN_IDS:
                self._event_ids.pop(next(iter(self._event_ids)))
        notice["event_id"] = wall_id
        self.last_detection = notice
        if self._on_live is not None:
            self._on_live(notice)

    def _follow_encoder(self) -> None:
        """A reopened picamera2 camera has a new hardware encoder: record from it."""
        segments = self.pipeline.segments if self.pipeline is not None else None
        own = getattr(self.camera.source, "segment_encoder", None)
        if segments is None or not callable(own):
            return
        try:
            encoder = own()
        except CameraDown:
            return
        if encoder is not segments.encoder:
            segments.replace_encoder(encoder)

    def _check_tamper(self, t: float) -> None:
        """The frame against the learned scene; fault states go to the alarm desk when
        they change and once a second."""
        if self.tamper is None or self.pipeline is None or self.pipeline.last_lores is None:
            return
        lores = self.pipeline.last_lores
        changes = self.tamper.observe(scene_features(lores, self._tamper_previous), t)
        self._tamper_previous = lores
        for change in changes:
            log.warning("camera %s: %s %s (%s)", self.cfg.name, change.fault,
                        "detected" if change.active else "cleared", change.detail)
        now = time.monotonic()
        if self._on_tamper is not None and self.tamper.learned and (
                changes or now - self._tamper_reported >= TAMPER_REPORT_S):
            self._tamper_reported = now
            active = set(self.tamper.active())
            self._on_tamper(self.cfg.name, {f: f in active for f in FAULTS},
                            t + self._wall_offset)

    def _observe(self, t: float) -> None:
        """The frame's confirmed tracks to the observer (in wall-clock time)."""
        if self._observer is None or self.pipeline is None or self.pipeline.last_image is None:
            return
        min_hits = self.detect.min_hits
        tracks = [(tr.track_id, tr.label, tr.box, tr.score if tr.missed == 0 else -1.0)
                  for tr in self.pipeline.tracker.tracks if tr.hits >= min_hits]
        self._observer.observe(self.pipeline.last_image, tracks, t + self._wall_offset)

    def store_segment(self, camera: str, segment: EncodedSegment) -> Any:
        """Segments are timed like frames: stored in wall-clock time."""
        assert self._segment_store is not None
        shifted = EncodedSegment(segment.start + self._wall_offset,
                                 segment.end + self._wall_offset, segment.frames,
                                 segment.data, segment.content_type)
        return self._segment_store.store_segment(camera, shifted)

    def _run(self) -> None:
        try:
            # a gate camera's vehicle fills the frame: no object detector
            gate = self.cfg.plates and self.cfg.plates_mode == "gate"
            detector = open_detector(self.detect) if self.detect.model and not gate else None
        except Exception as exc:  # a bad model must not take the service down
            self.error = f"detector not loaded: {exc}"
            log.error("camera %s: %s; running motion-only", self.cfg.name, self.error)
            detector = None
        if detector is not None:
            self.detector_family = detector.family
        period = 1.0 / self.cfg.fps if self.cfg.fps > 0 else 0.0
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                frame = self.camera.read()
                if frame is None:
                    if self.camera.finished:
                        log.info("camera %s: source ended", self.cfg.name)
                        break
                    self._stop.wait(min(1.0, max(0.05, self.camera.wait_hint())))
                    continue
                if self.pipeline is None:
                    # the clip recorder of some backends (picamera2) needs an open camera
                    segments = None
                    recorder = None
                    if self._segment_store is not None:  # each frame encoded once
                        segments = make_segment_recorder(self.cfg, self.camera.source, self)
                    else:
                        recorder = self.camera.source.clip_recorder()
                    self.pipeline = DetectionPipeline(self.cfg, self.detect, detector, self,
                                                      clip_recorder=recorder,
                                                      segments=segments)
                self._follow_encoder()
                self._wall_offset = time.time() - frame.time
                try:
                    self.pipeline.process(frame)
                except Exception as exc:  # down and retried, never a dead worker
                    log.exception("camera %s: frame processing failed", self.cfg.name)
                    self.camera.fail(f"frame processing failed: {type(exc).__name__}: {exc}")
                    continue
                self._check_tamper(frame.time)
                self._observe(frame.time)
                # files and test sources come as fast as we read them: pace them to fps
                self._stop.wait(max(0.0, period - (time.monotonic() - started)))
        except Exception:
            log.exception("camera %s: worker failed", self.cfg.name)
            self.error = "worker failed (see log)"
        finally:
            try:
                if self.pipeline is not None:
                    self.pipeline.finish()
            finally:
                try:
                    if self._observer is not None:
                        self._observer.close()
                finally:
                    self.camera.close()
