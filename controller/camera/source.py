"""What every camera backend offers, and how a config's ``source`` picks one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from controller.camera.clip import ClipRecorder
from controller.camera.frame import Frame
from controller.config import CameraConfig


class CameraDown(Exception):
    """The camera failed or vanished; the reconnecting wrapper reopens it."""


class CameraSource(Protocol):
    name: str

    def open(self) -> None:
        """Open the device; raises CameraDown when it cannot."""

    def read(self) -> Frame | None:
        """The next frame; None at the end of a (non-looping) file; CameraDown on failure."""

    def close(self) -> None: ...

    def clip_recorder(self) -> ClipRecorder:
        """A recorder with pre-roll for this camera's main stream."""

    @property
    def dropped(self) -> int:
        """Frames lost by the backend (gaps in a live stream)."""


def open_source(config: CameraConfig, clock: Callable[[], float] | None = None) -> CameraSource:
    """The backend for a camera config: ``picamera2:N`` or anything OpenCV opens."""
    if config.source.startswith("picamera2"):
        from controller.camera.picamera import PicameraSource

        return PicameraSource(config, clock=clock)
    from controller.camera.opencv import OpenCvSource

    return OpenCvSource(config, clock=clock)
