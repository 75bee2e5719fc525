"""Tamper through a real `edgewarden run`: the camera's lens is covered (in the video it
plays), the covered alarm is raised on the ISA-18.2 desk with its own priority, and clears
when the view is back; nothing else is raised."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pyrage

from controller.control.client import ControlClient
from controller.store import initialise
from tests.service_run.service_process import running_service

FPS = 10.0


def write_video(path: Path) -> None:
    """10 s of a yard, 8 s covered (dark, even, sensor noise), 30 s of the yard again."""
    rng = np.random.default_rng(4)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (320, 240))
    yard = np.full((240, 320, 3), 120, np.uint8)
    for x in range(0, 320, 20):
        cv2.line(yard, (x, 120), (x, 230), (50, 50, 50), 3)
    cv2.rectangle(yard, (30, 20), (130, 100), (200, 190, 170), -1)
    for i in range(480):
        if 100 <= i < 180:
            image = np.clip(rng.normal(12, 2, yard.shape), 0, 255).astype(np.uint8)
        else:
            image = np.clip(yard + rng.normal(0, 3, yard.shape), 0, 255).astype(np.uint8)
        writer.write(image)
    writer.release()


def wait_for(client: ControlClient, test, what: str, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = test(client.call("status"))
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_covered_lens_raises_its_alarm_and_clears(tmp_path: Path) -> None:
    custodian = pyrage.x25519.Identity.generate()
    initialise(tmp_path / "data", passphrase=None, identity_on_device=False,
               extra_recipients=[str(custodian.to_public())])
    video = tmp_path / "yard.mp4"
    write_video(video)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"""
[device]
name = "tamper-test"
data_dir = "{tmp_path / 'data'}"
runtime_dir = "{tmp_path / 'run'}"

[[cameras]]
name = "yard"
source = "{video}"
fps = {FPS}
width = 320
height = 240
recording = "off"

[cameras.tamper]
learn_s = 4.0
delay_s = 2.0
clear_s = 3.0
priority_covered = "urgent"
""")
    with running_service(cfg, tmp_path) as sock, ControlClient(sock) as client:
        def covered(status):  # type: ignore[no-untyped-def]
            return [a for a in status["alarms"]
                    if a["channel"] == "camera/yard/tamper/covered"
                    and a["state"] != "normal"]

        (alarm,) = wait_for(client, covered, "the covered alarm")
        assert alarm["priority"] == "urgent"
        status = client.call("status")
        assert status["cameras"][0]["tamper"] == {"state": "watching",
                                                  "active": ["covered"]}
        others = [a for a in status["alarms"] if "tamper" in a["channel"]
                  and a["channel"] != "camera/yard/tamper/covered"]
        assert others == []
        wait_for(client, lambda s: s["cameras"][0]["tamper"]["active"] == [],
                 "the view to be judged clear again")
