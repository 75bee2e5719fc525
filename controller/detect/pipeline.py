"""One camera's analysis: privacy mask -> motion gate -> detector -> tracker -> events.

Synchronous and single-threaded on purpose: the service runs ``process`` on its
inference worker thread, the CLI and the benchmark call it in a loop. Finished events,
with their snapshot and clip, go to an :class:`EventSink`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np
import numpy.typing as npt

from controller.camera.clip import ClipRecorder
from controller.camera.frame import Frame
from controller.camera.masks import PrivacyMask
from controller.camera.recording import SegmentRecorder
from controller.config import CameraConfig, DetectConfig
from controller.detect.detection import Detection
from controller.detect.detector import Detector
from controller.detect.events import (
    ClipSchedule,
    DetectionEvent,
    EventBuilder,
    EventSink,
    live_notice,
)
from controller.detect.motion import DetectorGate, MotionDetector, MotionParams
from controller.detect.regions import Zones
from controller.detect.tracker import IouTracker

MOTION_LABEL = "motion"


@dataclass(frozen=True)
class FrameResult:
    index: int
    time: float
    motion: bool
    detected: bool  # did the detector run on this frame
    detections: list[Detection]


@dataclass
class PipelineStats:
    frames: int = 0
    detector_runs: int = 0
    motion_frames: int = 0
    events: int = 0
    labels: dict[str, int] = field(default_factory=dict)


class DetectionPipeline:
    """Without a detector, moving regions become ``motion`` detections (motion-only events)."""

    def __init__(
        self,
        camera: CameraConfig,
        detect: DetectConfig,
        detector: Detector | None,
        sink: EventSink,
        clip_recorder: ClipRecorder | None = None,
        motion_gate: bool | None = None,
        segments: SegmentRecorder | None = None,
    ) -> None:
        self.camera = camera
        self.detector = detector
        self.sink = sink
        self.mask = PrivacyMask.from_config(camera.privacy_masks, camera.name)
        zones = Zones.from_config(camera.zones, camera.name)
        lores = (camera.lores_width, camera.lores_height)
        self._lores_size = lores
        self.motion = MotionDetector(
            MotionParams.from_sensitivity(camera.motion_sensitivity),
            self.mask.raster(*lores) if self.mask else None,
        )
        gate_on = detect.motion_gate if motion_gate is None else motion_gate
        self.gate = DetectorGate(hold_s=detect.motion_hold_s, enabled=gate_on or detector is None)
        self.tracker = IouTracker(detect.iou_match, detect.max_missed_frames, detect.min_hits)
        self.events = EventBuilder(camera.name, zones)
        self.recorder = clip_recorder
        self.schedule = ClipSchedule(camera.post_roll_s, camera.max_event_s)
        self.stats = PipelineStats()
        self._best_image: dict[tuple[int, str], npt.NDArray[np.uint8]] = {}
        self._pending: list[DetectionEvent] = []
        self._was_running = False
        # events with their clip (if any), waiting for the segments of their post-roll
        self.segments = segments
        self._awaiting: list[DetectionEvent] = []
        self._announced: dict[tuple[int, str], float] = {}  # open event -> last live notice
        self.live_interval_s = 1.0
        self.last_lores: npt.NDArray[np.uint8] | None = None
        self.last_image: npt.NDArray[np.uint8] | None = None

    def process(self, frame: Frame) -> FrameResult:
        t = frame.time
        image = self.mask.apply(frame.image)
        self.last_image = image  # masked: what a later stage (plates) may look at
        lores = frame.lores
        if lores is None or lores.shape[:2] != self._lores_size[::-1]:
            small = cv2.resize(image, self._lores_size, interpolation=cv2.INTER_LINEAR)
            lores = np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
        self.last_lores = lores  # the grey picture the camera's tamper checks look at
        moved = self.motion.observe(lores)
        run = self.gate.decide(moved.moving, self.tracker.any_moving(), t)
        detections: list[Detection] = []
        ended: list[DetectionEvent] = []
        if run:
            if self.detector is not None:
                if not self._was_running:
                    self.detector.reset_state()  # recurrent state is stale after a gap
                detections = self.detector.detect(image)
            elif moved.box is not None:
                detections = [Detection(MOTION_LABEL, 1.0, moved.box)]
            self.stats.detector_runs += 1
            ended = self.events.update(self.tracker.update(detections, t), t)
        elif self._was_running:
            ended = self.events.end(self.tracker.end_all())
        self._was_running = run
        self.stats.frames += 1
        self.stats.motion_frames += int(moved.moving)
        for event in self.events.open_events:
            if event.improved:
                self._best_image[(event.track_id, event.zone)] = image
        self._collect(ended)
        self._live(t)
        self._clip(image, t)
        self._record(image, t)
        return FrameResult(frame.index, t, moved.moving, run, detections)

    def finish(self) -> None:
        """End of input: close every event, finish the clip, hand everything to the sink."""
        self._collect(self.events.end(self.tracker.end_all()))
        clip = self.recorder.stop() if self.recorder is not None else b""
        self.schedule.recording = False
        self._release(clip)
        if self.recorder is not None:
            self.recorder.close()
        if self.segments is not None:
            self.segments.finish(self._last_time)
            self._hand_over()
            self.segments.close()

    _last_time = 0.0

    def _live(self, t: float) -> None:
        """Open events are announced when they start and updated at most once a second."""
        self._last_time = t
        labels = {track.track_id: track.label for track in self.tracker.tracks}
        for event in self.events.open_events:
            key = (event.track_id, event.zone)
            last = self._announced.get(key)
            if last is None or t - last >= self.live_interval_s:
                phase = "start" if last is None else "update"
                self._announced[key] = t
                self._notify(live_notice(self.camera.name, event,
                                         labels.get(event.track_id, "object"), t, phase))
            if self.segments is not None:
                self.segments.want(event.start, t)

    def _notify(self, notice: dict[str, object]) -> None:
        on_live = getattr(self.sink, "on_live", None)
        if on_live is not None:
            on_live(notice)

    def _record(self, image: npt.NDArray[np.uint8], t: float) -> None:
        if self.segments is None:
            return
        self.segments.add(image, t)
        self._hand_over()

    def _hand_over(self) -> None:
        """Events whose post-roll lies in closed segments go out, naming those segments."""
        assert self.segments is not None
        post = self.camera.post_roll_s
        pre = self.camera.pre_roll_s
        ready = [e for e in self._awaiting if self.segments.closed_until >= e.end + post]
        self._awaiting = [e for e in self._awaiting if e not in ready]
        for event in ready:
            covering = self.segments.covering(event.start - pre, event.end + post)
            self._emit(replace(event, segments=tuple(s.ref for s in covering),
                               recorded_from=covering[0].start if covering else None,
                               recorded_to=covering[-1].end if covering else None))

    def _collect(self, ended: list[DetectionEvent]) -> None:
        for event in ended:
            self._announced.pop((event.track_id, event.zone), None)
            self._notify({**event.notice(), "phase": "end"})
            image = self._best_image.pop((event.track_id, event.zone), None)
            snapshot = None
            if image is not None:
                ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
                snapshot = jpeg.tobytes() if ok else None
            self._pending.append(replace(event, snapshot_jpeg=snapshot))
        if self.recorder is None and self._pending:
            self._release(b"")

    def _clip(self, image: npt.NDArray[np.uint8], t: float) -> None:
        if self.recorder is None:
            if self.segments is None:
                return
            if self.schedule.step(len(self.events.open_events), t) == "cut":
                self._cut(image, t)  # segments: events still end at max_event_s
                self._release(b"")
            return
        self.recorder.add(image, t)
        action = self.schedule.step(len(self.events.open_events), t)
        if action == "start":
            self.recorder.start(t)
        elif action == "stop":
            self._release(self.recorder.stop())
        elif action == "cut":
            self._cut(image, t)
            self._release(self.recorder.stop())
            self.recorder.start(t)

    def _cut(self, image: npt.NDArray[np.uint8], t: float) -> None:
        """Hand over the open events up to now (with this clip); they go on in new ones,
        whose snapshot is this frame until a better one comes."""
        labels = {track.track_id: track.label for track in self.tracker.tracks}
        self._collect(self.events.cut(t, labels))
        for event in self.events.open_events:
            self._best_image[(event.track_id, event.zone)] = image

    def _release(self, clip: bytes) -> None:
        pending, self._pending = self._pending, []
        for event in pending:
            if clip and self.recorder is not None:
                event = replace(event, clip=clip, clip_format=self.recorder.format)
            if self.segments is not None:
                self._awaiting.append(event)
            else:
                self._emit(event)

    def _emit(self, event: DetectionEvent) -> None:
        self.stats.events += 1
        self.stats.labels[event.label] = self.stats.labels.get(event.label, 0) + 1
        self.sink.on_event(event)
