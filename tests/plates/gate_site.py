"""A gate camera's site for the end-to-end plate tests: the drive-through image folder of
one synthetic plate, and the config of a `plates_mode = "gate"` camera playing it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from controller.simulation.plates import scene


def write_drive_through(frames: Path, plate: str) -> Path:
    """16 frames: the gate empty, a vehicle with `plate` driving in, stopping, leaving."""
    frames.mkdir()
    vehicle, _ = scene(plate, seed=1, noise=4.0)
    empty = np.full_like(vehicle, 90)
    for i in range(16):
        dx = (12 - i) * 60
        image = empty if i < 3 or i > 12 else cv2.warpAffine(
            vehicle, np.float32([[1, 0, dx], [0, 1, 0]]), (1280, 720),
            borderValue=(90, 90, 90))
        cv2.imwrite(str(frames / f"{i:03d}.png"), image)
    return frames


def write_gate_config(cfg: Path, *, name: str, data: Path, runtime: Path, frames: Path,
                      camera: str = 'fps = 4.0\nwidth = 1280\nheight = 720',
                      sections: str = "[detect]\nmin_hits = 2\n", camera_keys: str = "",
                      tables: str = "") -> Path:
    """The config of one gate camera (`camera`: its source's keys; `camera_keys`: more of
    the camera's own; `sections` before it and `tables` after it)."""
    cfg.write_text(f"""
[device]
name = "{name}"
data_dir = "{data}"
runtime_dir = "{runtime}"

{sections}
[[cameras]]
name = "gate"
source = "{frames}"
{camera}
recording = "off"
plates = true
plates_mode = "gate"
{camera_keys}
[cameras.tamper]
enabled = false
{tables}""")
    return cfg
