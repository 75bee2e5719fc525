"""Media written per hour of footage: segments written once vs today's per-track clips.

    uv run python bench/recording.py [seconds-of-footage]   (default 120; needs ../shared)

The demo's camera (the looping traffic video through the OpenCV backend, thinned to the
demo's 10 fps, pre/post-roll 1 s, max_event_s 10 s) with the real traffic model at the
demo's threshold 0.3. One run feeds the same pipeline two recorders:

- baseline: today's per-track clips (FrameClipRecorder, one clip per recording, stored once
  per event that it served, as the service did: each event's media encrypted on its own);
- segments: the camera's stream encoded once into segments by the encoder the service
  picks for this backend (libx264 through PyAV; OpenCV mp4v without it), kept in the
  default ``events`` mode, each stored once however many events it serves.

Both add the events' snapshots. Prints bytes per hour of footage, the ratio (goal >= 10x),
the encoder and the bitrate it wrote, and what ``continuous`` mode would write.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.camera.clip import FrameClipRecorder
from controller.camera.opencv import OpenCvSource
from controller.camera.recording import SegmentRecorder, segment_encoder_for
from controller.camera.segment_keeper import SegmentKeeper
from controller.camera.segments import EncodedSegment, SegmentEncoder
from controller.config import CameraConfig, DetectConfig
from controller.detect.detector import open_detector
from controller.detect.events import DetectionEvent
from controller.detect.pipeline import DetectionPipeline
from controller.store.records import MediaRef
from tests.conftest import shared_data_dir

SEGMENT_S = 4.0


class CountingStore:
    """Stands in for the record store: counts what would be encrypted and written."""

    def __init__(self) -> None:
        self.bytes = 0
        self.segments = 0

    def store_segment(self, camera: str, segment: EncodedSegment) -> MediaRef:
        self.bytes += len(segment.data)
        self.segments += 1
        return MediaRef(f"{self.segments:064x}", segment.content_type, len(segment.data))


class Sink:
    def __init__(self) -> None:
        self.events: list[DetectionEvent] = []
        self.live = 0

    def on_event(self, event: DetectionEvent) -> None:
        self.events.append(event)

    def on_live(self, notice: dict[str, object]) -> None:
        self.live += 1


class AllSegments:
    """Continuous mode's figure: every segment encoded, kept or not."""

    def __init__(self, encoder: SegmentEncoder) -> None:
        self.encoder = encoder
        self.codec = encoder.codec
        self.bytes = 0
        self.seconds = 0.0

    def add(self, image, time):  # type: ignore[no-untyped-def]
        seg = self.encoder.add(image, time)
        self._count(seg)
        return seg

    def flush(self, time):  # type: ignore[no-untyped-def]
        segs = self.encoder.flush(time)
        for seg in segs:
            self._count(seg)
        return segs

    def close(self) -> None:
        self.encoder.close()

    def _count(self, seg: EncodedSegment | None) -> None:
        if seg is not None:
            self.bytes += len(seg.data)
            self.seconds += seg.end - seg.start


def main() -> None:
    footage_s = float(sys.argv[1]) if len(sys.argv) > 1 else 120.0
    shared = shared_data_dir()
    traffic = shared / "traffic" if shared else None
    if traffic is None or not (traffic / "traffic_model.tflite").exists():
        print("needs ../shared/data/traffic (the traffic model and video)")
        raise SystemExit(2)
    camera = CameraConfig(name="yard", source=str(traffic / "traffic_frames.mp4"), loop=True,
                          fps=10.0, width=640, height=360, pre_roll_s=1.0, post_roll_s=1.0,
                          max_event_s=10.0, segment_s=SEGMENT_S)
    detect = DetectConfig(model=traffic / "traffic_model.tflite",
                          labels=traffic / "traffic_label_map.pbtxt", threshold=0.3)
    source = OpenCvSource(camera)
    source.open()
    store = CountingStore()
    encoder = AllSegments(segment_encoder_for(source, camera))
    segments = SegmentRecorder(camera.name, encoder,  # type: ignore[arg-type]
                               SegmentKeeper("events", camera.pre_roll_s, camera.post_roll_s),
                               store)
    sink = Sink()
    pipeline = DetectionPipeline(camera, detect, open_detector(detect), sink,
                                 clip_recorder=FrameClipRecorder(camera.pre_roll_s, camera.fps),
                                 segments=segments)
    started = time.perf_counter()
    frames = 0
    last = 0.0
    while True:
        frame = source.read()
        if frame is None or frame.time >= footage_s:
            break
        pipeline.process(frame)
        frames += 1
        last = frame.time
    pipeline.finish()
    source.close()
    took = time.perf_counter() - started
    footage = max(last + 1.0 / camera.fps, 1e-9)
    per_hour = 3600.0 / footage
    snapshots = sum(len(e.snapshot_jpeg or b"") for e in sink.events)
    clips = sum(len(e.clip or b"") for e in sink.events)
    baseline = (clips + snapshots) * per_hour
    ours = (store.bytes + snapshots) * per_hour
    bitrate = encoder.bytes * 8 / max(encoder.seconds, 1e-9)
    print(f"footage: {footage:.1f} s ({frames} frames at {camera.fps:g} fps) of the looping "
          f"traffic video, {len(sink.events)} events ({sink.live} live notices), "
          f"run took {took:.1f} s")
    print(f"segments: {encoder.codec}, {SEGMENT_S:g} s segments, wrote "
          f"{bitrate / 1e6:.2f} Mbit/s at the video's 960x540")
    print(f"baseline (today's per-track clips + snapshots): {baseline / 1e6:9.1f} MB per hour "
          f"({len([e for e in sink.events if e.clip])} clips)")
    print(f"segments written once (events mode + snapshots): {ours / 1e6:9.1f} MB per hour "
          f"({store.segments} of {segments.stats.segments_encoded} segments kept)")
    print(f"  of which video {store.bytes * per_hour / 1e6:.1f} MB, snapshots "
          f"{snapshots * per_hour / 1e6:.1f} MB ({len(sink.events)} events in "
          f"{footage:.0f} s: the 0.7 s loop breaks tracks); baseline video "
          f"{clips * per_hour / 1e6:.1f} MB, ratio {clips / max(store.bytes, 1):.1f}x")
    print(f"continuous mode (every segment + snapshots):    "
          f"{(encoder.bytes + snapshots) * per_hour / 1e6:9.1f} MB per hour")
    print(f"ratio baseline / segments: {baseline / max(ours, 1):.1f}x (goal >= 10x)")
    gb_day = ours * 24 / 1e9
    print(f"a 32 GB card (28 GB for media) holds {28 / max(gb_day, 1e-9):.1f} days at this "
          f"rate (the baseline: {28 / max(baseline * 24 / 1e9, 1e-9):.2f} days)")


if __name__ == "__main__":
    main()
