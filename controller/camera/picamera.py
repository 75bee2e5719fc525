"""picamera2 backend for Pi cameras.

One configuration with two streams: ``main`` (config size, BGR "RGB888") feeds the
H.264 encoder, whose CircularOutput keeps the pre-roll; ``lores`` (YUV420, its Y plane
is the grey frame) feeds the motion gate. Privacy masks are blacked out in both
streams by a ``pre_callback`` before the encoder or the detector sees a pixel.
picamera2 (and libcamera) are imported here, lazily, and only when this backend opens.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from controller.camera.clip import ClipRecorder
from controller.camera.frame import Frame
from controller.camera.masks import PrivacyMask
from controller.camera.segments import KeyframeSegmentOutput
from controller.camera.source import CameraDown
from controller.config import CameraConfig
from controller.errors import UsageError

_EXPOSURE = {"normal": "Normal", "short": "Short", "long": "Long"}


@dataclass(frozen=True)
class PicameraModules:
    """The parts of picamera2/libcamera this backend uses (a test double can stand in)."""

    Picamera2: Any
    H264Encoder: Any
    CircularOutput: Any
    MappedArray: Any
    Transform: Any
    controls: Any


def import_picamera2() -> PicameraModules:
    try:
        from libcamera import Transform, controls  # type: ignore[import-not-found]
        from picamera2 import MappedArray, Picamera2
        from picamera2.encoders import H264Encoder
        from picamera2.outputs import CircularOutput
    except ImportError as exc:
        raise CameraDown(
            f"picamera2 is not installed ({exc.name}): install the 'pi' extra on a Pi"
        ) from None
    return PicameraModules(Picamera2, H264Encoder, CircularOutput, MappedArray, Transform,
                           controls)


class PicameraSource:
    """A Pi camera through picamera2; frames are timed by the clock."""

    def __init__(
        self,
        config: CameraConfig,
        clock: Callable[[], float] | None = None,
        modules: PicameraModules | None = None,
    ) -> None:
        if config.rotation not in (0, 180):
            raise UsageError(
                f"camera {config.name!r}: rotation {config.rotation} is not possible with "
                "picamera2 (libcamera transforms flip only): use 0 or 180"
            )
        self.config = config
        self.name = config.name
        self._clock = clock or _time.monotonic
        self._modules = modules
        self._camera: Any = None
        self._output: Any = None
        self._segments: KeyframeSegmentOutput | None = None
        self._index = 0
        self._dropped = 0
        self._last_sequence: int | None = None
        self._mask = PrivacyMask.from_config(config.privacy_masks, config.name)

    @property
    def camera_number(self) -> int:
        _, _, number = self.config.source.partition(":")
        try:
            return int(number or 0)
        except ValueError:
            raise UsageError(
                f"camera {self.config.name!r}: source {self.config.source!r} must be picamera2:N"
            ) from None

    @property
    def dropped(self) -> int:
        return self._dropped

    def open(self) -> None:
        self.close()
        mods = self._modules or import_picamera2()
        cfg = self.config
        try:
            camera = mods.Picamera2(self.camera_number)
            transform = (mods.Transform(hflip=1, vflip=1) if cfg.rotation == 180
                         else mods.Transform())
            exposure = getattr(mods.controls.AeExposureModeEnum, _EXPOSURE[cfg.exposure_mode])
            video = camera.create_video_configuration(
                main={"size": (cfg.width, cfg.height), "format": "RGB888"},
                lores={"size": (cfg.lores_width, cfg.lores_height), "format": "YUV420"},
                transform=transform,
                controls={"FrameRate": cfg.fps, "AeExposureMode": exposure},
            )
            camera.configure(video)
            if self._mask:
                camera.pre_callback = self._black_out(mods)
            segments = None
            if cfg.recording == "off":
                # no recording: the encoder only keeps a pre-roll for `clip_recorder`
                encoder = mods.H264Encoder(bitrate=cfg.h264_bitrate)
                output: Any = mods.CircularOutput(
                    buffersize=max(1, round(cfg.fps * cfg.pre_roll_s)), outputtofile=False
                )
            else:
                # segments: an IDR frame with SPS/PPS every segment, cut there
                segment_s = max(1.0, cfg.segment_s)
                encoder = mods.H264Encoder(bitrate=cfg.h264_bitrate, repeat=True,
                                           iperiod=max(1, round(cfg.fps * segment_s)))
                output = segments = KeyframeSegmentOutput(segment_s, clock=self._clock)
            camera.start_recording(encoder, output)
        except (RuntimeError, OSError, IndexError, ValueError) as exc:
            raise CameraDown(f"picamera2 camera {self.camera_number}: {exc}") from None
        self._camera, self._output, self._segments = camera, output, segments

    def _black_out(self, mods: PicameraModules) -> Callable[[Any], None]:
        mask = self._mask
        lores_height = self.config.lores_height

        def callback(request: Any) -> None:
            with mods.MappedArray(request, "main") as m:
                m.array[mask.raster(m.array.shape[1], m.array.shape[0])] = 0
            with mods.MappedArray(request, "lores") as m:
                y = m.array[:lores_height]
                y[mask.raster(y.shape[1], y.shape[0])] = 0

        return callback

    def read(self) -> Frame | None:
        if self._camera is None:
            raise CameraDown(f"picamera2 camera {self.camera_number} is not open")
        try:
            arrays, metadata = self._camera.capture_arrays(["main", "lores"])
        except (RuntimeError, OSError, TimeoutError) as exc:
            raise CameraDown(f"picamera2 camera {self.camera_number}: {exc}") from None
        main, lores = arrays
        self._count_drops(metadata)
        image: npt.NDArray[np.uint8] = np.ascontiguousarray(main[:, :, :3])
        grey: npt.NDArray[np.uint8] = np.ascontiguousarray(lores[: self.config.lores_height])
        frame = Frame(index=self._index, time=self._clock(), image=image, lores=grey)
        self._index += 1
        return frame

    def _count_drops(self, metadata: Any) -> None:
        sequence = metadata.get("SensorSequence") if isinstance(metadata, dict) else None
        if isinstance(sequence, int):
            if self._last_sequence is not None and sequence > self._last_sequence + 1:
                self._dropped += sequence - self._last_sequence - 1
            self._last_sequence = sequence

    def segment_encoder(self) -> KeyframeSegmentOutput:
        """The hardware encoder's segments (the camera must be open, recording not off)."""
        if self._segments is None:
            raise CameraDown(f"picamera2 camera {self.camera_number} is not recording")
        return self._segments

    def clip_recorder(self) -> ClipRecorder:
        if self._output is None or self._segments is not None:
            raise CameraDown(f"picamera2 camera {self.camera_number} is not open")
        return CircularOutputRecorder(self._output)

    def close(self) -> None:
        camera, self._camera, self._output = self._camera, None, None
        self._segments = None
        self._last_sequence = None
        if camera is None:
            return
        try:
            camera.stop_recording()
        finally:
            camera.close()


class CircularOutputRecorder:
    """Clips from picamera2's CircularOutput: the encoder already keeps the pre-roll."""

    format = "h264"

    def __init__(self, output: Any, tmp_dir: Path | None = None) -> None:
        self._output = output
        self._dir = Path(tempfile.mkdtemp(prefix="edgewarden-clip-", dir=tmp_dir))
        self._path = self._dir / "clip.h264"
        self._recording = False

    def add(self, image: npt.NDArray[np.uint8], time: float) -> None:
        """Nothing to do: the hardware encoder is fed by the camera itself."""

    def start(self, time: float) -> None:
        if self._recording:
            return
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        self._output.fileoutput = str(self._path)
        self._output.start()
        self._recording = True

    def stop(self) -> bytes:
        if not self._recording:
            return b""
        self._output.stop()
        self._recording = False
        try:
            return self._path.read_bytes()
        finally:
            self._path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._recording:
            self._output.stop()
            self._recording = False
        self._path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self._dir.rmdir()
