"""OpenCV backend: V4L2 devices, RTSP/HTTP streams, video files (optionally looped) and
folders of still images (played in name order)."""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from controller.camera.clip import ClipRecorder, FrameClipRecorder
from controller.camera.frame import Frame
from controller.camera.source import CameraDown
from controller.config import CameraConfig

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def source_kind(source: str) -> str:
    """``device``, ``stream``, ``dir`` or ``file``."""
    if source.isdigit() or source.startswith("/dev/video") or source.startswith("/dev/v4l"):
        return "device"
    if "://" in source:
        return "stream"
    if Path(source).is_dir():
        return "dir"
    return "file"


class OpenCvSource:
    """Frames as BGR arrays; file and folder frames are timed by their index and fps,
    live frames by the clock, so recordings replay the same way every time."""

    def __init__(self, config: CameraConfig, clock: Callable[[], float] | None = None,
                 every_frame: bool = False) -> None:
        """``every_frame``: never thin a recording to ``config.fps`` (offline analysis)."""
        self.config = config
        self._every_frame = every_frame
        self.name = config.name
        self.kind = source_kind(config.source)
        self._clock = clock or _time.monotonic
        self._cap: cv2.VideoCapture | None = None
        self._images: list[Path] = []
        self._index = 0
        self._position = 0
        self._fps = config.fps
        self._last_live: float | None = None
        self._dropped = 0
        self._skip = 0  # file frames passed over after each one read
        self._file_stamp: tuple[int, int] | None = None  # (size, mtime) of the file opened

    @property
    def live(self) -> bool:
        return self.kind in ("device", "stream")

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def dropped(self) -> int:
        return self._dropped

    def open(self) -> None:
        src = self.config.source
        self.close()
        self._position = 0
        self.kind = source_kind(src)  # a folder deleted and made again is a folder again
        if self.kind == "dir":
            try:
                self._images = sorted(
                    p for p in Path(src).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
                )
            except OSError as exc:
                raise CameraDown(f"{src}: cannot list the folder ({exc.strerror})") from None
            if not self._images:
                raise CameraDown(f"{src}: folder holds no images")
            return
        if self.kind == "file":
            self._file_stamp = self._stamp()
            if self._file_stamp is None:
                raise CameraDown(f"{src}: no such video file")
        if self.kind == "device":
            target: int | str = int(src) if src.isdigit() else src
            cap = cv2.VideoCapture(target, cv2.CAP_V4L2)
        elif self.kind == "stream":
            # without timeouts a hung server blocks open and read for ever
            ms = max(1, round(self.config.read_timeout_s * 1000))
            cap = cv2.VideoCapture(src, cv2.CAP_FFMPEG, [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        else:
            cap = cv2.VideoCapture(src)
        if not cap.isOpened():
            cap.release()
            raise CameraDown(f"{src}: cannot open video source")
        if self.kind == "device":
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.config.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.config.height)
            cap.set(cv2.CAP_PROP_FPS, self.config.fps)
        reported = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._skip = 0
        if self.kind == "file" and 0.0 < reported < 1000.0:
            # a recording faster than the camera's fps is thinned to it, so it still plays
            # in real time (frame times, clip length, pre-roll) at the analysis rate asked
            if (not self._every_frame and self.config.fps > 0
                    and reported > 1.5 * self.config.fps):
                self._skip = round(reported / self.config.fps) - 1
            self._fps = reported / (self._skip + 1)
        self._cap = cap

    def read(self) -> Frame | None:
        image = self._read_image()
        if image is None:
            return None
        if self.config.rotation:
            image = np.asarray(cv2.rotate(image, _ROTATE[self.config.rotation]), dtype=np.uint8)
        if self.live:
            now = self._clock()
            self._count_gap(now)
        else:
            now = self._index / self._fps
        frame = Frame(index=self._index, time=now, image=image)
        self._index += 1
        return frame

    def _read_image(self) -> npt.NDArray[np.uint8] | None:
        if self.kind == "dir":
            if self._position >= len(self._images):
                if not (self.config.loop and self._images):
                    return None
                self._position = 0
            path = self._images[self._position]
            self._position += 1
            still = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if still is None:
                raise CameraDown(f"{path}: not a readable image")
            return np.asarray(still, dtype=np.uint8)
        if self._cap is None:
            raise CameraDown(f"{self.config.source}: camera is not open")
        ok, image = self._cap.read()
        if ok and image is not None:
            for _ in range(self._skip):
                self._cap.grab()
            return np.asarray(image, dtype=np.uint8)
        if self.live:
            raise CameraDown(f"{self.config.source}: no frame within "
                             f"{self.config.read_timeout_s:g} s (camera failed, vanished "
                             "or hung)")
        if self._stamp() != self._file_stamp:
            raise CameraDown(f"{self.config.source}: the video file was truncated, replaced "
                             "or removed while playing")
        if self.config.loop and self._index > 0:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._cap.read()
            if ok and image is not None:
                return np.asarray(image, dtype=np.uint8)
            raise CameraDown(f"{self.config.source}: no frame after rewinding the file")
        return None

    def _stamp(self) -> tuple[int, int] | None:
        """(size, mtime) of the video file; None when it is not a regular file."""
        try:
            st = Path(self.config.source).stat()
        except OSError:
            return None
        if not Path(self.config.source).is_file():
            return None
        return (st.st_size, st.st_mtime_ns)

    def _count_gap(self, now: float) -> None:
        if self._last_live is not None and self._fps > 0:
            expected = (now - self._last_live) * self._fps
            if expected > 1.5:
                self._dropped += round(expected) - 1
        self._last_live = now

    def clip_recorder(self) -> ClipRecorder:
        return FrameClipRecorder(self.config.pre_roll_s, self._fps)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
