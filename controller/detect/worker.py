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
from typing import Any

from controller.camera.reconnect import CameraStatus, open_camera
from controller.config import CameraConfig, DetectConfig
from controller.detect.detector import open_detector
from controller.detect.events import DetectionEvent
from controller.detect.pipeline import DetectionPipeline

log = logging.getLogger("camera")

EventHandler = Callable[[DetectionEvent], None]
StatusHandler = Callable[[CameraStatus], None]


class CameraWorker:
    def __init__(
        self,
        cfg: CameraConfig,
        detect: DetectConfig,
        on_event: EventHandler,
        on_status: StatusHandler,
    ) -> None:
        self.cfg = cfg
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
        }

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def on_event(self, event: DetectionEvent) -> None:
        """An event from the pipeline, in frame time: handed on in wall-clock time."""
        event = event.shifted(self._wall_offset)
        self.last_detection = event.notice()
        self._on_event(event)

    def _run(self) -> None:
        try:
            detector = open_detector(self.detect) if self.detect.model else None
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
                    recorder = self.camera.source.clip_recorder()
                    self.pipeline = DetectionPipeline(self.cfg, self.detect, detector, self,
                                                      clip_recorder=recorder)
                self._wall_offset = time.time() - frame.time
                try:
                    self.pipeline.process(frame)
                except Exception as exc:  # down and retried, never a dead worker
                    log.exception("camera %s: frame processing failed", self.cfg.name)
                    self.camera.fail(f"frame processing failed: {type(exc).__name__}: {exc}")
                    continue
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
                self.camera.close()
