"""A small store with events, media and several epochs, built fresh for each test."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pyrage
import pytest

from controller.config import StoreConfig
from controller.store import RecordWriter, initialise
from controller.store.keyschedule import decode_verification_key

T0 = 1_700_000_000.0


@dataclass
class Store:
    data_dir: Path
    identity: pyrage.x25519.Identity
    identity_file: Path
    seed: bytes
    verification_key: str


def snapshot_png() -> bytes:
    """A textured frame with a bright square where the event's box says an object is."""
    rng = np.random.default_rng(7)
    image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    image[30:90, 40:120] = 255
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def clip_frames(n: int = 12) -> list[np.ndarray]:
    """Textured frames with the bright object where the event's box says it is."""
    rng = np.random.default_rng(11)
    frames = []
    for _ in range(n):
        image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
        image[30:90, 40:120] = 255
        frames.append(image)
    return frames


def encode_clip(frames: list[np.ndarray], fps: float = 10.0) -> bytes:
    """An MP4 (mp4v) clip as the OpenCV clip recorder makes them."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        height, width = frames[0].shape[:2]
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps,
                                 (width, height))
        assert writer.isOpened()
        for frame in frames:
            writer.write(frame)
        writer.release()
        return path.read_bytes()


def decode_clip(data: bytes) -> list[np.ndarray]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        path.write_bytes(data)
        cap = cv2.VideoCapture(str(path))
        frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
        cap.release()
        return frames


def build_store(tmp_path: Path, epochs: int = 3, per_epoch: int = 40) -> Store:
    identity = pyrage.x25519.Identity.generate()
    identity_file = tmp_path / "custodian.txt"
    identity_file.write_text(f"{identity}\n")
    data_dir = tmp_path / "data"
    result = initialise(data_dir, passphrase=None, identity_on_device=False,
                        extra_recipients=[str(identity.to_public())])
    cfg = StoreConfig(commit_interval_ms=5, seal_every_records=16, reserved_space_mb=1,
                      shed_margin_mb=1)
    t = T0
    for e in range(epochs):
        with RecordWriter.open(data_dir, cfg) as w:
            tickets = []
            for i in range(per_epoch):
                t += 60.0
                if i % 10 == 5:
                    snap = w.add_media(snapshot_png(), "image/png")
                    clip = w.add_media(encode_clip(clip_frames()), "video/mp4")
                    body = {"camera": "cam0", "label": "person",
                            "detections": [{"label": "person", "score": 0.9,
                                            "box": [0.25, 0.25, 0.75, 0.75]}]}
                    tickets.append(w.append("event", "cam0", "warning", body, [snap, clip],
                                            t_wall=t))
                else:
                    tickets.append(w.append("reading", f"node{e % 2}/temp", "info",
                                            {"value": i}, t_wall=t))
            assert tickets[-1].wait_durable(10)
    return Store(data_dir, identity, identity_file,
                 decode_verification_key(result.verification_key), result.verification_key)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return build_store(tmp_path)


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    path = tmp_path / "stick"
    path.mkdir()
    return path
