"""A real `edgewarden run` recording continuously, killed (SIGKILL) at random instants:
no file under a media name is ever half-written, and every segment a record names decodes
whole after the restart's recovery."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pyrage

from controller.config import StoreConfig
from controller.store import HistoryReader, RecordWriter, initialise, verify_store
from controller.store.keyschedule import decode_verification_key
from controller.store.layout import StoreLayout

REPO_ROOT = Path(__file__).resolve().parents[2]
FPS = 10.0


def write_video(path: Path, n: int = 60) -> None:
    rng = np.random.default_rng(1)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (320, 240))
    for i in range(n):
        image = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
        cv2.rectangle(image, (i * 4, 100), (i * 4 + 40, 140), (255, 255, 255), -1)
        writer.write(image)
    writer.release()


def count_frames(data: bytes) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.mp4"
        path.write_bytes(data)
        cap = cv2.VideoCapture(str(path))
        n = 0
        while cap.read()[0]:
            n += 1
        cap.release()
        return n


def test_killed_service_leaves_no_half_written_segment(tmp_path: Path) -> None:
    identity = pyrage.x25519.Identity.generate()
    init = initialise(tmp_path / "data", passphrase=None, identity_on_device=False,
                      extra_recipients=[str(identity.to_public())])
    video = tmp_path / "yard.mp4"
    write_video(video)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"""
[device]
name = "kill-test"
data_dir = "{tmp_path / 'data'}"
runtime_dir = "{tmp_path / 'run'}"

[store]
commit_interval_ms = 20

[[cameras]]
name = "yard"
source = "{video}"
loop = true
fps = {FPS}
width = 320
height = 240
recording = "continuous"
segment_s = 1.0
""")
    media_dir = StoreLayout(tmp_path / "data").media_dir
    rng = random.Random(16)
    for _round in range(3):
        before = len(list(media_dir.glob("*.age")))
        proc = subprocess.Popen([sys.executable, "-m", "controller", "run", "--config", str(cfg)],
                                cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                                stderr=open(tmp_path / "service.log", "ab"))  # noqa: SIM115
        try:
            deadline = time.monotonic() + 60
            while len(list(media_dir.glob("*.age"))) < before + 2:
                assert proc.poll() is None, (tmp_path / "service.log").read_text()
                assert time.monotonic() < deadline, "no segments written"
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 1.0))  # somewhere inside the next segment's write
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        # nothing under a media name that is not whole: the name is the content's hash
        for path in media_dir.glob("*.age"):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            assert path.name == f"{digest}.age", f"{path.name}: half-written"

    RecordWriter.open(tmp_path / "data", StoreConfig()).close()  # recovery after the kill
    assert not list(media_dir.glob("*.part"))
    report = verify_store(tmp_path / "data", decode_verification_key(init.verification_key),
                          identity)
    assert report.ok, report.problems
    with HistoryReader(tmp_path / "data", identity) as history:
        segments = list(history.records(kinds=["recording"]))
        assert len(segments) >= 6
        for record in segments:
            (ref,) = record.media
            assert count_frames(history.media(ref)) == record.body["frames"]
