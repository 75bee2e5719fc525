"""Clips with pre-roll and post-roll for backends that hand out raw frames (OpenCV).

A ring buffer keeps the last ``pre_roll_s`` of frames; when recording starts they are
written first, then every frame until stop. The MP4 is written to a private temp
directory (0700), read back as bytes and deleted: the plaintext never outlives the call,
the record store encrypts the bytes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import deque
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from controller.errors import EdgewardenError


class ClipRecorder(Protocol):
    format: str

    def add(self, image: npt.NDArray[np.uint8], time: float) -> None:
        """Offer a (privacy-masked) frame: buffered for pre-roll, or written while recording."""

    def start(self, time: float) -> None: ...

    def stop(self) -> bytes:
        """Finish the clip and return its bytes."""

    def close(self) -> None: ...


class FrameClipRecorder:
    """Ring buffer of frames plus cv2.VideoWriter (mp4v) into a private temp file."""

    format = "mp4"

    def __init__(self, pre_roll_s: float, fps: float, tmp_dir: Path | None = None) -> None:
        self.pre_roll_s = pre_roll_s
        self.fps = fps if fps > 0 else 15.0
        self._ring: deque[tuple[float, npt.NDArray[np.uint8]]] = deque()
        self._dir = Path(tempfile.mkdtemp(prefix="edgewarden-clip-", dir=tmp_dir))
        self._path = self._dir / "clip.mp4"
        self._writer: cv2.VideoWriter | None = None
        self._wanted = False
        self.frames_written = 0

    @property
    def recording(self) -> bool:
        return self._writer is not None

    def add(self, image: npt.NDArray[np.uint8], time: float) -> None:
        if self._wanted and self._writer is None:
            self._open(image)
        if self._writer is not None:
            self._write(image)
            return
        self._ring.append((time, image))
        while self._ring and time - self._ring[0][0] > self.pre_roll_s:
            self._ring.popleft()

    def start(self, time: float) -> None:
        self._wanted = True
        if self._writer is not None or not self._ring:
            return
        self._open(self._ring[0][1])
        while self._ring:
            self._write(self._ring.popleft()[1])

    def _open(self, like: npt.NDArray[np.uint8]) -> None:
        height, width = like.shape[:2]
        fourcc = cv2.VideoWriter.fourcc(*"mp4v")
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        writer = cv2.VideoWriter(str(self._path), fourcc, self.fps, (width, height))
        if not writer.isOpened():
            raise EdgewardenError(f"{self._path}: cannot write an MP4 clip (OpenCV VideoWriter)")
        self._writer = writer
        self.frames_written = 0

    def _write(self, image: npt.NDArray[np.uint8]) -> None:
        assert self._writer is not None
        self._writer.write(np.ascontiguousarray(image))
        self.frames_written += 1

    def stop(self) -> bytes:
        self._wanted = False
        if self._writer is None:
            return b""
        self._writer.release()
        self._writer = None
        try:
            return self._path.read_bytes()
        finally:
            self._path.unlink(missing_ok=True)

    def close(self) -> None:
        self._wanted = False
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        self._ring.clear()
        self._path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self._dir.rmdir()
