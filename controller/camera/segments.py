"""Short video segments of a camera's main stream, each encoded once.

Every frame is encoded once, into segments of ``segment_s`` seconds; events point into
them instead of owning a clip of their own, so overlapping events share the same bytes.

Encoders:

- :class:`PyAvSegmentEncoder` for backends that hand out raw frames (V4L2, RTSP, files):
  H.264 through PyAV's FFmpeg (libx264, preset ``veryfast``, constant quality ``crf`` 28
  capped at the camera's ``h264_bitrate``), muxed into MP4 in memory: no plaintext file
  at all. OpenCV's own FFmpeg build has no H.264 encoder without hardware (only
  ``h264_v4l2m2m``), so OpenCV is only the fallback:
- :class:`OpenCvSegmentEncoder`: MPEG-4 Part 2 (``mp4v``) in MP4 at OpenCV's default rate
  (about 3 Mbit/s at 960x540, 10 fps, five times the H.264 rate); the file lives in a
  private (0700) temp directory only while it is written.
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
import io
import os
import tempfile
import threading
import time as _time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
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


class PyAvSegmentEncoder:
    """libx264 through PyAV into an in-memory MP4, one per segment."""

    content_type = MP4_TYPE

    def __init__(self, segment_s: float, fps: float, max_bitrate: int = 4_000_000,
                 crf: int = 28, preset: str = "veryfast") -> None:
        import av  # imported here: only cameras that record need it

        if segment_s <= 0:
            raise ValueError("segment_s must be positive")
        self._av = av
        self.segment_s = segment_s
        self.fps = fps if fps > 0 else 15.0
        self.max_bitrate = max_bitrate
        self.crf = crf
        self.preset = preset
        self.codec = f"h264 (libx264 via PyAV, crf {crf}, at most {max_bitrate / 1e6:g} Mbit/s)"
        self._rate = Fraction(self.fps).limit_denominator(1000)
        self._buffer: io.BytesIO | None = None
        self._container: Any = None
        self._stream: Any = None
        self._start = 0.0
        self._frames = 0
        self._size: tuple[int, int] | None = None

    @staticmethod
    def available() -> bool:
        try:
            import av
        except ImportError:
            return False
        return "libx264" in av.codecs_available

    def add(self, image: npt.NDArray[np.uint8], time: float) -> EncodedSegment | None:
        done = None
        size = (image.shape[1] // 2 * 2, image.shape[0] // 2 * 2)  # yuv420p: even sizes
        if self._container is not None and (time - self._start >= self.segment_s
                                            or size != self._size):
            done = self._finish(time)
        if self._container is None:
            self._open(size, time)
        frame = self._av.VideoFrame.from_ndarray(
            np.ascontiguousarray(image[: size[1], : size[0]]), format="bgr24")
        frame.pts = self._frames
        frame.time_base = 1 / self._rate
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self._frames += 1
        return done

    def _open(self, size: tuple[int, int], time: float) -> None:
        self._buffer = io.BytesIO()
        container = self._av.open(self._buffer, mode="w", format="mp4")
        stream = container.add_stream("libx264", rate=self._rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        gop = max(1, round(self.fps * self.segment_s))
        stream.options = {"crf": str(self.crf), "preset": self.preset,
                          "maxrate": str(self.max_bitrate), "bufsize": str(2 * self.max_bitrate),
                          "g": str(gop), "threads": "1"}
        self._container, self._stream = container, stream
        self._size, self._start, self._frames = size, time, 0

    def flush(self, time: float) -> list[EncodedSegment]:
        done = self._finish(time)
        return [done] if done is not None else []

    def _finish(self, time: float) -> EncodedSegment | None:
        container, self._container = self._container, None
        if container is None or self._buffer is None:
            return None
        for packet in self._stream.encode():
            container.mux(packet)
        container.close()
        data, self._buffer = self._buffer.getvalue(), None
        end = max(time, self._start + self._frames / self.fps)
        return EncodedSegment(self._start, end, self._frames, data, MP4_TYPE)

    def close(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None
        self._buffer = None


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
