"""Cameras that fail as they do on a site, under the real `edgewarden run` with no
[anomaly] section: a video file truncated to 0 bytes, an image folder deleted, an MJPEG
server that hangs (SIGSTOP). Each must be `down` with an alarm, and come back by itself
when its source returns."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from controller.control.client import ControlClient, ServiceUnavailable
from controller.simulation.site import write_synthetic_video
from tests.prepared_store import initialised_copy

PASSPHRASE = "camera failure passphrase 7"
CAMERAS = ("video", "stills", "stream")


def _wait(pred, timeout: float = 40.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ewcam-", dir="/tmp"))  # AF_UNIX path limit
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _stills(folder: Path) -> None:
    folder.mkdir()
    for i in range(6):
        image = np.full((120, 160, 3), 40 * i, np.uint8)
        assert cv2.imwrite(str(folder / f"{i:03d}.png"), image)


def _start_mjpeg(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    portfile = root / "mjpeg.port"
    proc = subprocess.Popen([sys.executable, "-m", "tests.camera.mjpeg_server", str(portfile)])
    port = _wait(lambda: portfile.exists() and portfile.read_text(), timeout=20,
                 what="the MJPEG server")
    return proc, f"http://127.0.0.1:{port}/stream.mjpg"


def _status(sock: Path) -> dict[str, Any]:
    try:
        with ControlClient(sock) as c:
            return dict(c.call("status"))
    except (OSError, ServiceUnavailable):
        return {}


def _camera(status: dict[str, Any], name: str) -> dict[str, Any]:
    return next((c for c in status.get("cameras", []) if c["name"] == name), {})


def _down_alarm(status: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((a for a in status.get("alarms", [])
                 if a["channel"] == f"camera/{name}/down"), None)


def test_every_camera_failure_is_down_with_an_alarm_and_recovers(root: Path) -> None:
    initialised_copy(root / "data", PASSPHRASE)
    video = write_synthetic_video(root / "yard.mp4", frames=60)
    saved = root / "yard.saved.mp4"
    shutil.copy(video, saved)
    stills = root / "stills"
    _stills(stills)
    server, url = _start_mjpeg(root)
    cameras = "".join(
        f'[[cameras]]\nname = "{name}"\nsource = "{source}"\nloop = true\nfps = 5.0\n'
        f"width = 160\nheight = 120\nlores_width = 80\nlores_height = 60\n"
        f"reopen_backoff_initial_s = 0.2\nreopen_backoff_max_s = 1.0\nread_timeout_s = 2.0\n\n"
        for name, source in zip(CAMERAS, (video, stills, url), strict=True))
    cfg = root / "config.toml"
    cfg.write_text(f"""
[device]
data_dir = "{root / 'data'}"
runtime_dir = "{root / 'run'}"

[serial]
keys_dir = "{root / 'keys'}"

{cameras}""")
    sock = root / "run" / "control.sock"
    proc = subprocess.Popen([sys.executable, "-m", "controller", "run", "--config", str(cfg)],
                            stderr=open(root / "service.log", "wb"))  # noqa: SIM115
    try:
        _wait(lambda: (s := _status(sock)) and all(
            _camera(s, n).get("state") == "up" and _camera(s, n).get("frames", 0) > 3
            for n in CAMERAS), what="all three cameras up")

        os.truncate(video, 0)  # the recording is truncated to nothing
        shutil.rmtree(stills)  # the folder of stills is deleted
        os.kill(server.pid, signal.SIGSTOP)  # the stream's server hangs
        status = _wait(lambda: (s := _status(sock)) and all(
            _camera(s, n).get("state") == "down"
            and (_down_alarm(s, n) or {}).get("state") == "active_unack"
            for n in CAMERAS) and s, what="all three cameras down, each with an alarm")
        assert "truncated" in _camera(status, "video")["reason"] \
            or "cannot open" in _camera(status, "video")["reason"]
        assert "stills" in _camera(status, "stills")["reason"]
        assert "no frame within 2 s" in _camera(status, "stream")["reason"]
        frames_down = {n: _camera(status, n)["frames"] for n in CAMERAS}

        shutil.copy(saved, video)  # the sources come back
        _stills(stills)
        os.kill(server.pid, signal.SIGCONT)
        status = _wait(lambda: (s := _status(sock)) and all(
            _camera(s, n).get("state") == "up" and _camera(s, n)["frames"] > frames_down[n]
            and (_down_alarm(s, n) or {}).get("state") in ("returned_unack", "normal")
            for n in CAMERAS) and s, timeout=60, what="all three cameras back")
    finally:
        os.kill(server.pid, signal.SIGCONT)
        server.kill()
        server.wait()
        proc.terminate()
        code = proc.wait(timeout=30)
    assert code == 0
    log = (root / "service.log").read_text()
    assert "worker failed" not in log and "Traceback" not in log
    for name in CAMERAS:  # each was retried with backoff, and said so
        assert f"camera {name} down:" in log and "retry in" in log


def test_a_recording_that_ends_says_ended_not_up(root: Path) -> None:
    from controller.config import CameraConfig, DetectConfig
    from controller.detect.worker import CameraWorker

    video = write_synthetic_video(root / "short.mp4", frames=8)
    worker = CameraWorker(CameraConfig(name="short", source=str(video), fps=40.0,
                                       lores_width=80, lores_height=60),
                          DetectConfig(), lambda e: None, lambda s: None)
    worker.start()
    try:
        status = _wait(lambda: (s := worker.status)["state"] != "up" and s["frames"] and s,
                       timeout=30, what="the recording to end")
    finally:
        worker.stop()
    assert status["state"] == "ended" and status["frames"] >= 1


def test_a_backend_exception_is_a_camera_down_retried_with_backoff() -> None:
    from controller.camera.frame import Frame
    from controller.camera.reconnect import Backoff, CameraStatus, ReconnectingCamera

    class Vanishing:
        name = "lost"
        dropped = 0

        def __init__(self) -> None:
            self.opens = 0

        def open(self) -> None:
            self.opens += 1
            if self.opens == 1:
                raise FileNotFoundError(2, "No such file or directory")

        def read(self) -> Frame | None:
            return Frame(index=0, time=0.0, image=np.zeros((2, 2, 3), np.uint8))

        def close(self) -> None:
            pass

        def clip_recorder(self) -> Any:
            raise NotImplementedError

    now = [0.0]
    changes: list[CameraStatus] = []
    cam = ReconnectingCamera(Vanishing(), Backoff(1.0, 4.0), lambda: now[0],  # type: ignore[arg-type]
                             changes.append)
    assert cam.read() is None
    assert cam.status.down and "FileNotFoundError" in cam.status.reason
    assert changes[-1].down
    now[0] = 0.5
    assert cam.read() is None  # still inside the backoff
    now[0] = 1.0
    assert cam.read() is not None and not cam.status.down
