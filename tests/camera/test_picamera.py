"""The picamera2 backend through a test double of picamera2's documented API:
Picamera2(n), create_video_configuration(main=, lores=, transform=, controls=), configure,
pre_callback with MappedArray, start_recording(H264Encoder, CircularOutput),
capture_arrays(["main", "lores"]), CircularOutput.fileoutput/start/stop,
stop_recording, close; libcamera Transform and controls.AeExposureModeEnum."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pytest

from controller.camera.picamera import PicameraModules, PicameraSource
from controller.camera.reconnect import Backoff, ReconnectingCamera
from controller.camera.source import CameraDown
from controller.config import CameraConfig
from controller.errors import UsageError


class FakeRequest:
    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays


class FakeMappedArray:
    def __init__(self, request: FakeRequest, stream: str) -> None:
        self.array = request.arrays[stream]

    def __enter__(self) -> FakeMappedArray:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class FakeCircularOutput:
    def __init__(self, buffersize: int = 150, outputtofile: bool = True) -> None:
        self.buffersize = buffersize
        self.fileoutput: str | None = None
        self.started = False

    def start(self) -> None:
        self.started = True
        Path(self.fileoutput or "").write_bytes(b"\x00\x00\x00\x01h264-preroll")

    def stop(self) -> None:
        self.started = False
        with open(self.fileoutput or "", "ab") as f:
            f.write(b"-postroll")


class FakeH264Encoder:
    def __init__(self, bitrate: int | None = None, repeat: bool = False,
                 iperiod: int | None = None) -> None:
        self.bitrate = bitrate
        self.repeat = repeat
        self.iperiod = iperiod


class FakePicamera2:
    instances: ClassVar[list[FakePicamera2]] = []
    fail_capture = False

    def __init__(self, camera_num: int = 0) -> None:
        self.camera_num = camera_num
        self.pre_callback: Any = None
        self.recording: tuple[Any, Any] | None = None
        self.closed = False
        self.sequence = 10
        FakePicamera2.instances.append(self)

    def create_video_configuration(self, main: dict, lores: dict, transform: Any,
                                   controls: dict) -> dict:
        return {"main": main, "lores": lores, "transform": transform, "controls": controls}

    def configure(self, config: dict) -> None:
        self.config = config

    def start_recording(self, encoder: Any, output: Any) -> None:
        self.recording = (encoder, output)

    def encode(self, payload: bytes, keyframe: bool) -> None:
        """What the hardware encoder does with each frame: hand it to its output."""
        assert self.recording is not None
        self.recording[1].outputframe(payload, keyframe, 0)

    def capture_arrays(self, names: list[str]) -> tuple[list[np.ndarray], dict]:
        if FakePicamera2.fail_capture:
            raise RuntimeError("Camera frontend has timed out!")
        w, h = self.config["main"]["size"]
        lw, lh = self.config["lores"]["size"]
        request = FakeRequest({"main": np.full((h, w, 3), 200, np.uint8),
                               "lores": np.full((lh * 3 // 2, lw), 150, np.uint8)})
        if self.pre_callback is not None:
            self.pre_callback(request)
        self.sequence += 3 if self.sequence == 12 else 1  # one gap of 2 frames
        return [request.arrays[n] for n in names], {"SensorSequence": self.sequence}

    def stop_recording(self) -> None:
        self.recording = None

    def close(self) -> None:
        self.closed = True


def fake_modules() -> PicameraModules:
    transform = lambda hflip=0, vflip=0: ("Transform", hflip, vflip)  # noqa: E731
    enum = SimpleNamespace(Normal=0, Short=1, Long=2)
    return PicameraModules(FakePicamera2, FakeH264Encoder, FakeCircularOutput,
                           FakeMappedArray, transform,
                           SimpleNamespace(AeExposureModeEnum=enum))


@pytest.fixture(autouse=True)
def reset() -> None:
    FakePicamera2.instances = []
    FakePicamera2.fail_capture = False


def config(**kw: Any) -> CameraConfig:
    base = dict(name="front", source="picamera2:1", width=64, height=48, lores_width=32,
                lores_height=24, fps=10.0, pre_roll_s=2.0, rotation=180, exposure_mode="short")
    base.update(kw)
    return CameraConfig(**base)  # type: ignore[arg-type]


def test_configures_main_and_lores_streams_from_config() -> None:
    source = PicameraSource(config(), clock=lambda: 5.0, modules=fake_modules())
    source.open()
    (cam,) = FakePicamera2.instances
    assert cam.camera_num == 1
    assert cam.config["main"] == {"size": (64, 48), "format": "RGB888"}
    assert cam.config["lores"] == {"size": (32, 24), "format": "YUV420"}
    assert cam.config["transform"] == ("Transform", 1, 1)
    assert cam.config["controls"] == {"FrameRate": 10.0, "AeExposureMode": 1}
    encoder, output = cam.recording
    # segments: an IDR frame (with SPS/PPS repeated) every 4 s segment at 10 fps
    assert isinstance(encoder, FakeH264Encoder) and encoder.iperiod == 40 and encoder.repeat
    assert output is source.segment_encoder()
    frame = source.read()
    assert frame is not None and frame.image.shape == (48, 64, 3)
    assert frame.lores is not None and frame.lores.shape == (24, 32) and frame.time == 5.0


def test_privacy_mask_applied_in_both_streams_before_encoding() -> None:
    left_half = [[[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]]
    source = PicameraSource(config(privacy_masks=left_half), modules=fake_modules())
    source.open()
    frame = source.read()
    assert frame is not None and frame.lores is not None
    assert frame.image[:, :30].max() == 0 and frame.image[:, 34:].min() == 200
    assert frame.lores[:, :15].max() == 0 and frame.lores[:, 17:].min() == 150


def test_drops_counted_from_sensor_sequence() -> None:
    source = PicameraSource(config(), modules=fake_modules())
    source.open()
    for _ in range(4):
        source.read()
    assert source.dropped == 2


def test_clip_from_circular_output_has_pre_and_post_roll() -> None:
    source = PicameraSource(config(recording="off"), modules=fake_modules())
    source.open()
    _encoder, output = FakePicamera2.instances[0].recording
    assert output.buffersize == 20  # 2 s at 10 fps
    recorder = source.clip_recorder()
    assert recorder.format == "h264"
    recorder.start(0.0)
    data = recorder.stop()
    assert data == b"\x00\x00\x00\x01h264-preroll-postroll"
    recorder.close()


def test_failure_becomes_camera_down_and_reopens() -> None:
    now = [0.0]
    source = PicameraSource(config(), clock=lambda: now[0], modules=fake_modules())
    camera = ReconnectingCamera(source, Backoff(1.0, 4.0), clock=lambda: now[0])
    assert camera.read() is not None
    FakePicamera2.fail_capture = True
    assert camera.read() is None and camera.status.down
    assert FakePicamera2.instances[0].closed
    FakePicamera2.fail_capture = False
    now[0] = 1.0
    assert camera.read() is not None and len(FakePicamera2.instances) == 2


def test_rotation_90_is_refused_and_import_is_lazy() -> None:
    with pytest.raises(UsageError, match="rotation 90"):
        PicameraSource(config(rotation=90), modules=fake_modules())
    assert "picamera2" not in sys.modules
    source = PicameraSource(config())  # real modules: not installed here
    if "picamera2" not in sys.modules:
        try:
            import picamera2  # noqa: F401
        except ImportError:
            with pytest.raises(CameraDown, match="picamera2 is not installed"):
                source.open()


def test_h264_segments_cut_at_keyframes_through_the_encoder_output() -> None:
    now = [100.0]
    source = PicameraSource(config(segment_s=2.0), clock=lambda: now[0], modules=fake_modules())
    source.open()
    (cam,) = FakePicamera2.instances
    segments = source.segment_encoder()
    image = np.zeros((48, 64, 3), np.uint8)
    cam.encode(b"P-before-first-keyframe", keyframe=False)  # cannot start a segment
    for i in range(50):  # 5 s at 10 fps, a keyframe every 20 frames (the iperiod)
        now[0] = 100.0 + i / 10
        cam.encode(b"\x00\x00\x00\x01" + (b"I" if i % 20 == 0 else b"P") + bytes([i]),
                   keyframe=i % 20 == 0)
    first, second = segments.add(image, now[0]), segments.add(image, now[0])
    assert segments.add(image, now[0]) is None
    assert first is not None and second is not None
    assert (first.start, first.end, first.frames) == (100.0, 102.0, 20)
    assert (second.start, second.end, second.frames) == (102.0, 104.0, 20)
    assert first.content_type == "video/h264" and first.data.startswith(b"\x00\x00\x00\x01I")
    assert second.data.startswith(b"\x00\x00\x00\x01I\x14")  # frame 20, a keyframe
    (tail,) = segments.flush(now[0])
    assert tail.frames == 10 and tail.start == 104.0
    with pytest.raises(Exception, match="not recording"):
        PicameraSource(config(recording="off"), modules=fake_modules()).segment_encoder()


def test_reopened_camera_records_from_its_new_encoder() -> None:
    from controller.camera.recording import SegmentRecorder
    from controller.camera.segment_keeper import SegmentKeeper

    stored: list[Any] = []

    class Store:
        def store_segment(self, camera: str, segment: Any) -> Any:
            stored.append(segment)
            return segment

    now = [0.0]
    source = PicameraSource(config(segment_s=1.0), clock=lambda: now[0], modules=fake_modules())
    source.open()
    recorder = SegmentRecorder("front", source.segment_encoder(),
                               SegmentKeeper("continuous", 0.0, 0.0), Store())
    image = np.zeros((48, 64, 3), np.uint8)
    for i in range(15):  # 1.5 s, then the camera fails and is reopened
        now[0] = i / 10
        FakePicamera2.instances[-1].encode(b"I" if i % 10 == 0 else b"P", keyframe=i % 10 == 0)
        recorder.add(image, now[0])
    source.open()
    recorder.replace_encoder(source.segment_encoder())
    assert [s.frames for s in stored] == [10, 5]  # the old encoder's tail is kept
    for i in range(15, 30):
        now[0] = i / 10
        FakePicamera2.instances[-1].encode(b"I" if i % 10 == 0 else b"P", keyframe=i % 10 == 0)
        recorder.add(image, now[0])
    recorder.finish(now[0])
    # frames 15..19 wait for a keyframe (a segment must decode on its own), 20..29 follow
    assert [s.frames for s in stored] == [10, 5, 10]
