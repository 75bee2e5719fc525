"""Short video segments of a camera's main stream, each encoded once.

Every frame is encoded once, into segments of ``segment_s`` seconds; events point into
them instead of owning a clip of their own, so overlapping events share the same bytes.

Two encoders:

- :class:`OpenCvSegmentEncoder` for backends that hand out raw frames (V4L2, RTSP, files).
  OpenCV's FFmpeg build here has no H.264 encoder that works without hardware (only
  ``h264_v4l2m2m``), VP9 is about 70x slower than real time on a Pi-class core, so the
  choice is MPEG-4 Part 2 (``mp4v``) in an MP4 file at OpenCV's default rate for that
  codec (it scales with frame size and fps; `bench/recording.py` prints what it wrote).
  The file lives in a private (0700) temp directory only while it is written.
- :class:`KeyframeSegmentOutput` for picamera2: an output of the hardware H.264 encoder
  (picamera2 calls ``outputframe`` for every encoded frame) that cuts a segment at the
  first keyframe after ``segment_s``, so every segment starts with SPS/PPS and an IDR frame
  and decodes on its own. The encoder is created with ``repeat=True`` and an ``iperiod`` of
  one segment.

Both hand back :class:`EncodedSegment` (plaintext bytes in memory only: the store encrypts
them).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time as _time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from controller.errors import EdgewardenError

MP4_TYPE = "video/mp4"
H264_TYPE = "video/h264"


@dataclass(frozen=True)
class EncodedSegment:
    """``start``..``end`` in frame time (the time of its first frame and of the frame after
    its last); ``frames`` counted by the encoder."""

    start: float
    end: float
    frames: int
    data: bytes
    content_type: str

    def __repr__(self) -> str:  # no video bytes in logs
        return (f"EncodedSegment({self.start:.3f}..{self.end:.3f}, {self.frames} frames, "
                f"{len(self.data)} bytes, {self.content_type})")


class SegmentEncoder(Protocol):
    """Encodes a camera's frames into segments."""

    codec: str  # what `status` and the bench report

    def add(self, image: npt.NDArray[np.uint8], time: float) -> EncodedSegment | None:
        """Offer a (privacy-masked) frame; returns a segment when one is complete."""

    def flush(self, time: float) -> list[EncodedSegment]:
        """Finish the segment being written (end of input, shutdown); every one not yet
        handed out."""

    def close(self) -> None: ...


class OpenCvSegmentEncoder:
    """cv2.VideoWriter (mp4v) into a private temp file, one file per segment."""

    codec = "mpeg4 (OpenCV mp4v)"
    content_type = MP4_TYPE

    def __init__(self, segment_s: float, fps: float, tmp_dir: Path | None = None) -> None:
        if segment_s <= 0:
            raise ValueError("segment_s must be positive")
        self.segment_s = segment_s
        self.fps = fps if fps > 0 else 15.0
        self._dir = Path(tempfile.mkdtemp(prefix="edgewarden-seg-", dir=tmp_dir))
        self._path = self._dir / "segment.mp4"
        self._writer: cv2.VideoWriter | None = None
        self._start = 0.0
        self._frames = 0
        self._size: tuple[int, int] | None = None

    def add(self, image: npt.NDArray[np.uint8], time: float) -> EncodedSegment | None:
        done = None
        size = (image.shape[1], image.shape[0])
        if self._writer is not None and (time - self._start >= self.segment_s
                                         or size != self._size):
            done = self._finish(time)
        if self._writer is None:
            self._open(size, time)
        assert self._writer is not None
        self._writer.write(np.ascontiguousarray(image))
        self._frames += 1
        return done

    def _open(self, size: tuple[int, int], time: float) -> None:
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        writer = cv2.VideoWriter(str(self._path), cv2.VideoWriter.fourcc(*"mp4v"), self.fps,
                                 size)
        if not writer.isOpened():
            raise EdgewardenError(f"{self._path}: cannot write an MP4 segment (OpenCV)")
        self._writer, self._size, self._start, self._frames = writer, size, time, 0

    def flush(self, time: float) -> list[EncodedSegment]:
        done = self._finish(time)
        return [done] if done is not None else []

    def _finish(self, time: float) -> EncodedSegment | None:
        writer, self._writer = self._writer, None
        if writer is None:
            return None
        writer.release()
        try:
            data = self._path.read_bytes()
        finally:
            self._path.unlink(missing_ok=True)
        end = max(time, self._start + self._frames / self.fps)
        return EncodedSegment(self._start, end, self._frames, data, MP4_TYPE)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        self._path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self._dir.rmdir()


class KeyframeSegmentOutput:
    """A picamera2 encoder output that keeps encoded frames in memory and cuts them into
    segments at keyframes.

    picamera2 calls ``outputframe(frame, keyframe, timestamp, ...)`` from its encoder
    thread; the camera worker collects finished segments through :meth:`add`, the same
    call the OpenCV encoder takes (the image itself is not needed: the hardware encoder is
    fed by the camera). Times come from ``clock``, the clock the backend stamps frames with.
    """

    codec = "h264 (picamera2 H264Encoder)"

    def __init__(self, segment_s: float, clock: Callable[[], float] | None = None,
                 max_ready: int = 8) -> None:
        self.segment_s = segment_s
        self._clock = clock or _time.monotonic
        self._lock = threading.Lock()
        self._parts: list[bytes] = []
        self._start: float | None = None
        self._frames = 0
        self._ready: deque[EncodedSegment] = deque()
        self._max_ready = max_ready
        self.dropped_segments = 0  # nobody collected them in time (counted, shown in status)
        self.recording = False

    # ---- the picamera2 Output interface
    def start(self) -> None:
        self.recording = True

    def stop(self) -> None:
        self.recording = False

    def outputframe(self, frame: bytes, keyframe: bool = True, timestamp: Any = None,
                    *_: Any, **__: Any) -> None:
        now = self._clock()
        with self._lock:
            if self._start is None:
                if not keyframe:
                    return  # a segment must start with an IDR frame to decode on its own
                self._start = now
            elif keyframe and now - self._start >= self.segment_s:
                self._cut(now)
                self._start = now
            self._parts.append(bytes(frame))
            self._frames += 1

    def _cut(self, now: float) -> None:
        if self._start is None or not self._parts:
            return
        self._ready.append(EncodedSegment(self._start, now, self._frames,
                                          b"".join(self._parts), H264_TYPE))
        while len(self._ready) > self._max_ready:
            self._ready.popleft()
            self.dropped_segments += 1
        self._parts, self._frames, self._start = [], 0, None

    # ---- the SegmentEncoder interface (camera worker thread)
    def add(self, image: npt.NDArray[np.uint8], time: float) -> EncodedSegment | None:
        with self._lock:
            return self._ready.popleft() if self._ready else None

    def flush(self, time: float) -> list[EncodedSegment]:
        with self._lock:
            self._cut(self._clock())
            ready, self._ready = list(self._ready), deque()
            return ready

    def close(self) -> None:
        with self._lock:
            self._parts, self._ready, self._start = [], deque(), None
