"""OpenCV backend on files and folders, the clip writer, and reopen with backoff."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest

from controller.camera.clip import FrameClipRecorder
from controller.camera.frame import Frame
from controller.camera.opencv import OpenCvSource, source_kind
from controller.camera.reconnect import Backoff, CameraStatus, ReconnectingCamera
from controller.camera.source import CameraDown
from controller.config import CameraConfig


def write_video(path: Path, n: int, fps: float = 10.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (64, 48))
    for i in range(n):
        writer.write(np.full((48, 64, 3), i * 10, np.uint8))
    writer.release()


def read_all(source: OpenCvSource, limit: int = 100) -> list[Frame]:
    out = []
    while len(out) < limit:
        frame = source.read()
        if frame is None:
            break
        out.append(frame)
    return out


def test_video_file_frames_are_timed_by_fps(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    write_video(video, 5)
    source = OpenCvSource(CameraConfig(name="c", source=str(video)))
    source.open()
    frames = read_all(source)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert [f.time for f in frames] == pytest.approx([0, 0.1, 0.2, 0.3, 0.4])
    assert frames[0].image.shape == (48, 64, 3)


def test_loop_replays_the_file(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    write_video(video, 4)
    source = OpenCvSource(CameraConfig(name="c", source=str(video), loop=True))
    source.open()
    frames = read_all(source, limit=10)
    assert len(frames) == 10
    assert abs(int(frames[4].image.mean()) - int(frames[0].image.mean())) <= 3


def test_folder_of_images_in_name_order_and_rotation(tmp_path: Path) -> None:
    for i in (2, 0, 1):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), np.full((10, 20, 3), i * 50, np.uint8))
    source = OpenCvSource(CameraConfig(name="c", source=str(tmp_path), rotation=90))
    source.open()
    frames = read_all(source)
    assert [int(f.image.mean()) for f in frames] == [0, 50, 100]
    assert frames[0].image.shape == (20, 10, 3)


def test_sources_that_cannot_open(tmp_path: Path) -> None:
    assert source_kind("/dev/video0") == "device" and source_kind("rtsp://h/s") == "stream"
    with pytest.raises(CameraDown, match="no such video file"):
        OpenCvSource(CameraConfig(name="c", source=str(tmp_path / "x.mp4"))).open()
    (tmp_path / "junk.mp4").write_bytes(b"junk")
    with pytest.raises(CameraDown, match="cannot open"):
        OpenCvSource(CameraConfig(name="c", source=str(tmp_path / "junk.mp4"))).open()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CameraDown, match="no images"):
        OpenCvSource(CameraConfig(name="c", source=str(empty))).open()


def test_clip_has_pre_roll_and_leaves_no_file(tmp_path: Path) -> None:
    recorder = FrameClipRecorder(pre_roll_s=0.5, fps=10.0, tmp_dir=tmp_path)
    (clip_dir,) = tmp_path.iterdir()
    assert stat.S_IMODE(os.stat(clip_dir).st_mode) == 0o700
    for i in range(20):  # 2 s of frames; only the last 0.5 s are kept
        recorder.add(np.full((48, 64, 3), i, np.uint8), i / 10)
    recorder.start(2.0)
    for i in range(20, 25):
        recorder.add(np.full((48, 64, 3), i, np.uint8), i / 10)
    data = recorder.stop()
    out = tmp_path / "check.mp4"
    out.write_bytes(data)
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == 6 + 5
    assert list(clip_dir.iterdir()) == []
    recorder.close()
    assert not clip_dir.exists()


class FlakySource:
    """Fails to open while ``down``; read fails once ``vanish`` is set."""

    name = "flaky"
    dropped = 0

    def __init__(self) -> None:
        self.down = True
        self.vanish = False
        self.opens = 0
        self.index = 0

    def open(self) -> None:
        self.opens += 1
        if self.down:
            raise CameraDown("/dev/video9: cannot open video source")

    def read(self) -> Frame | None:
        if self.vanish:
            raise CameraDown("/dev/video9: no frame")
        self.index += 1
        return Frame(self.index, 0.0, np.zeros((2, 2, 3), np.uint8))

    def close(self) -> None:
        pass

    def clip_recorder(self):  # pragma: no cover - not used here
        raise NotImplementedError


def test_backoff_doubles_and_caps() -> None:
    backoff = Backoff(initial_s=0.5, max_s=4.0)
    assert [backoff.delay(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_reopen_with_backoff_and_camera_down_state() -> None:
    now = [100.0]
    changes: list[CameraStatus] = []
    source = FlakySource()
    camera = ReconnectingCamera(source, Backoff(1.0, 8.0), clock=lambda: now[0],
                                on_change=changes.append)
    assert camera.read() is None and camera.status.down
    assert camera.wait_hint() == 1.0
    assert camera.read() is None and source.opens == 1  # not retried before the delay
    now[0] = 101.0
    assert camera.read() is None and source.opens == 2
    assert camera.wait_hint() == 2.0  # doubled
    source.down = False
    now[0] = 103.0
    assert camera.read() is not None
    assert not camera.status.down and camera.status.frames == 1
    source.vanish = True
    now[0] = 104.0
    assert camera.read() is None
    status = camera.status
    assert status.down and status.down_since == 104.0 and "no frame" in status.reason
    assert [c.down for c in changes][-2:] == [False, True]
    source.vanish = False
    now[0] = 105.0
    assert camera.read() is not None and not camera.status.down
    assert camera.status.reopen_attempts == 2


def test_open_camera_wraps_the_backend_with_configured_backoff(tmp_path: Path) -> None:
    from controller.camera.reconnect import open_camera

    video = tmp_path / "v.mp4"
    write_video(video, 2)
    camera = open_camera(CameraConfig(name="c", source=str(video), reopen_backoff_max_s=7.0))
    assert camera.backoff.max_s == 7.0
    assert camera.read() is not None and camera.read() is not None
    assert camera.read() is None and camera.finished and not camera.status.down
    missing = open_camera(CameraConfig(name="m", source=str(tmp_path / "gone.mp4")))
    assert missing.read() is None and missing.status.down and not missing.finished


def test_a_recording_faster_than_the_camera_fps_plays_in_real_time(tmp_path: Path) -> None:
    path = tmp_path / "fast.mp4"
    write_video(path, 24, fps=24.0)  # one second of video
    source = OpenCvSource(CameraConfig(name="rec", source=str(path), fps=8.0))
    source.open()
    frames = read_all(source)
    source.close()
    assert source.fps == 8.0
    assert len(frames) == 8  # every third frame
    assert frames[-1].time == pytest.approx(0.875)  # still one second of scene, not three
    # the frames are the 1st, 4th, 7th ... of the file (their grey level says which)
    assert [round(int(f.image[0, 0, 0]) / 10) for f in frames] == list(range(0, 24, 3))
    offline = OpenCvSource(CameraConfig(name="rec", source=str(path), fps=8.0),
                           every_frame=True)
    offline.open()
    assert len(read_all(offline)) == 24
    offline.close()
