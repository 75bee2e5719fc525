"""A plate camera's OCR models load off the service's loop (through the service's
`plate_reader` seam): the control socket answers while they load, status says `loading`,
and a reader that cannot load (a missing model file) leaves the camera running without
plates, with one line naming the file, the reason in status and an alarm."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import msgspec
import numpy as np
import pytest

from controller.config import CameraConfig, load_config
from controller.control import schema
from controller.control.address import socket_path
from controller.control.client import ControlClient
from controller.plates.ocr import DET_MODEL
from controller.plates.reader import PlateRead, PlateReader
from controller.plates.stage import ReadFn
from controller.service import Service
from tests.plates.gate_site import write_gate_config
from tests.prepared_store import initialised_copy


def _config(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    initialised_copy(data, "plate loading test")
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(4):
        cv2.imwrite(str(frames / f"{i:03d}.png"), np.full((180, 320, 3), 40 * i, np.uint8))
    return write_gate_config(
        tmp_path / "config.toml", name="plate-loading", data=data, runtime=tmp_path / "run",
        frames=frames, camera="loop = true\nfps = 5.0\nwidth = 320\nheight = 180",
        sections=f'[serial]\nkeys_dir = "{tmp_path / "keys"}"\n')


@contextmanager
def _service(cfg_path: Path, loader: Callable[[CameraConfig], ReadFn]) -> Iterator[Path]:
    """The service in this process, on its own loop in a thread; yields its socket."""
    cfg = load_config(cfg_path)
    service = Service(cfg, cfg_path, plate_reader=loader)
    ready = threading.Event()
    failed: list[BaseException] = []
    loop: list[asyncio.AbstractEventLoop] = []

    async def main() -> None:
        loop.append(asyncio.get_running_loop())
        await service.run(ready=ready.set)

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            failed.append(exc)
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(60) and not failed, failed
    try:
        yield socket_path(cfg)
    finally:
        loop[0].call_soon_threadsafe(service.request_stop)
        thread.join(60)
        assert not thread.is_alive() and not failed, failed


def _plates(client: ControlClient) -> dict[str, Any]:
    status = client.call("status")
    msgspec.convert(status, schema.Status, strict=True)  # the shape the TUI reads
    plates: dict[str, Any] = status["cameras"][0]["plates"]
    return plates


def _wait_plates(client: ControlClient, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    plates = _plates(client)
    while plates["state"] != state and time.monotonic() < deadline:
        time.sleep(0.1)
        plates = _plates(client)
    return plates


def test_status_answers_while_the_plate_models_load(tmp_path: Path) -> None:
    loading = threading.Event()
    release = threading.Event()

    def slow_loader(cam: CameraConfig) -> ReadFn:
        loading.set()
        release.wait(120)  # held until the test has asked for status

        def read(image: np.ndarray) -> list[PlateRead]:
            return []

        return read

    with _service(_config(tmp_path), slow_loader) as sock, ControlClient(sock) as client:
        try:
            assert loading.wait(60)
            plates = _plates(client)  # answered while the loader is still held
            assert plates["state"] == "loading" and plates["reason"] is None
            assert client.call("status")["cameras"][0]["state"] in ("up", "down")
        finally:
            release.set()
        plates = _wait_plates(client, "reading")
        assert plates["state"] == "reading" and plates["reason"] is None
        alarms = [a["channel"] for a in client.call("status")["alarms"]]
        assert "camera/gate/plates/unavailable" not in alarms


def test_a_missing_model_file_leaves_the_camera_running_without_plates(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    models = tmp_path / "no-models"
    models.mkdir()
    missing = f"OCR model file missing: {models / DET_MODEL}"

    def shipped_layout_without_models(cam: CameraConfig) -> ReadFn:
        return PlateReader(model_dir=models).read  # the real loader, on an empty folder

    caplog.set_level(logging.ERROR)
    with _service(_config(tmp_path), shipped_layout_without_models) as sock, \
            ControlClient(sock) as client:
        plates = _wait_plates(client, "unavailable")
        assert plates["state"] == "unavailable" and plates["reason"] == missing
        deadline = time.monotonic() + 60
        alarms: list[dict[str, Any]] = []
        while not alarms and time.monotonic() < deadline:
            alarms = [a for a in client.call("status")["alarms"]
                      if a["channel"] == "camera/gate/plates/unavailable"]
            time.sleep(0.1)
        assert alarms and alarms[0]["state"].startswith("active"), alarms
        # the camera goes on, offering no crop to plates any more
        camera = client.call("status")["cameras"][0]
        before, offered = camera["frames"], camera["plates"]["offered"]
        while (client.call("status")["cameras"][0]["frames"] <= before + 3
               and time.monotonic() < deadline):
            time.sleep(0.1)
        camera = client.call("status")["cameras"][0]
        assert camera["frames"] > before + 3 and camera["plates"]["offered"] == offered
    lines = [r.getMessage() for r in caplog.records if missing in r.getMessage()]
    assert lines == [f"camera gate: no plate reads: {missing}"]
