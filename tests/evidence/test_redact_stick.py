"""Redaction (box blur, cascade path) and the headless stick mode."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pyrage
import pytest

from controller.config import Config, DeviceConfig, ExportConfig
from controller.evidence import Selection, export_bundle, verify_bundle
from controller.evidence.redact import (
    boxes_in,
    cascade_regions,
    cascades_available,
    redact_image,
)
from controller.evidence.stick import MOUNT_OPTIONS, run_stick
from tests.evidence.conftest import T0, Store, snapshot_png


def test_box_blur_changes_only_the_box() -> None:
    png = snapshot_png()
    original = _decode(png)
    out = redact_image(png, "image/png", [(0.5, 0.5, 0.9, 0.9)], use_cascades=False)
    image = _decode(out.data)
    assert out.regions == 1 and out.methods == ("detector-boxes",)
    # inside the box the pixel noise is gone, outside it is untouched
    assert _detail(image[92:106, 122:142]) < _detail(original[92:106, 122:142]) / 4
    assert np.array_equal(image[:50, :70], original[:50, :70])


def _decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def _detail(patch: np.ndarray) -> float:
    """Mean difference between horizontal neighbours: high for noise, low when blurred."""
    return float(np.abs(np.diff(patch.astype(np.int32), axis=1)).mean())


def test_without_boxes_or_cascades_an_image_is_not_redactable() -> None:
    if cascades_available():
        pytest.skip("this OpenCV ships Haar cascades")
    with pytest.raises(ValueError, match="cannot be redacted safely"):
        redact_image(snapshot_png(), "image/png", [])


def test_cascade_path_runs() -> None:
    image = _decode(snapshot_png())
    assert cascade_regions(image) == [] or cascades_available()


def test_boxes_found_anywhere_in_the_event_body() -> None:
    body = {"detections": [{"box": [0.1, 0.2, 0.3, 0.4]}, {"box": [2, 0, 3, 1]}],
            "track": [{"t": 1, "box": [0.0, 0.0, 0.5, 0.5]}]}
    assert boxes_in(body) == [(0.1, 0.2, 0.3, 0.4), (0.0, 0.0, 0.5, 0.5)]


def test_redacted_export_blurs_and_marks(store: Store, out_dir: Path) -> None:
    result = export_bundle(store.data_dir, out_dir, Selection(kinds=("event",)), now=T0,
                           identity=store.identity, redact=True)
    doc = json.loads((result.path / "data/bundle.json").read_text())
    assert doc["redacted"] is True
    states = {e["state"] for e in doc["media"]}
    assert states == {"redacted", "withheld"}  # snapshots blurred, clips withheld
    assert not (result.path / "data/media").exists()  # no original leaves the device
    red = [e for e in doc["media"] if e["state"] == "redacted"]
    assert all(e["regions"] >= 1 and "detector-boxes" in e["methods"] for e in red)
    plain = pyrage.decrypt((result.path / "data/redacted" /
                            f"{red[0]['redacted_sha256']}.age").read_bytes(), [store.identity])
    image = _decode(plain)
    original = _decode(snapshot_png())
    # the event's box (0.25..0.75) grown by the margin: its noisy rim is obscured
    assert _detail(image[91:95, 36:124]) < _detail(original[91:95, 36:124]) / 2
    assert np.array_equal(image[:20, :20], original[:20, :20])
    assert verify_bundle(result.path, identity=store.identity, seed=store.seed).ok


def _cfg(store: Store, **export: object) -> Config:
    return Config(device=DeviceConfig(data_dir=store.data_dir),
                  export=ExportConfig(**export))  # type: ignore[arg-type]


def test_stick_with_the_label_gets_the_last_days(store: Store, out_dir: Path) -> None:
    audits: list[dict[str, object]] = []
    now = T0 + 60 * 120 + 10
    outcome = run_stick("/dev/fake", _cfg(store, default_days=60 * 50 / 86400), now=now,
                        mountpoint=out_dir, label="EDGEWARDEN", on_audit=audits.append)
    assert outcome.status == "exported", outcome.detail
    assert outcome.bundle is not None and outcome.bundle.parent == out_dir
    report = verify_bundle(outcome.bundle)
    assert report.ok and report.selected == 50
    assert audits[-1]["outcome"] == "ok"


def test_stick_without_the_label_is_ignored(store: Store, out_dir: Path) -> None:
    calls: list[list[str]] = []

    def runner(cmd: object) -> subprocess.CompletedProcess[str]:
        calls.append(list(cmd))  # type: ignore[call-overload]
        return subprocess.CompletedProcess(list(cmd), 0, "HOLIDAYS\n", "")  # type: ignore[call-overload]

    outcome = run_stick("/dev/sdz1", _cfg(store), now=T0, runner=runner)
    assert outcome.status == "ignored"
    assert calls == [["blkid", "-o", "value", "-s", "LABEL", "/dev/sdz1"]]
    assert list(out_dir.iterdir()) == []


def test_stick_mounts_with_safe_options_and_unmounts(store: Store) -> None:
    calls: list[list[str]] = []

    def runner(cmd: object) -> subprocess.CompletedProcess[str]:
        calls.append(list(cmd))  # type: ignore[call-overload]
        return subprocess.CompletedProcess(list(cmd), 0, "EDGEWARDEN\n", "")  # type: ignore[call-overload]

    outcome = run_stick("/dev/sdz1", _cfg(store, default_days=1e5), now=T0 + 1e4,
                        runner=runner)
    assert outcome.status == "exported"  # written to the (fake-mounted) temp dir
    assert calls[1][:3] == ["mount", "-o", MOUNT_OPTIONS] and calls[1][3] == "/dev/sdz1"
    assert calls[2][0] == "umount" and calls[2][1] == calls[1][4]
    assert outcome.bundle is not None and outcome.bundle.parent == Path(calls[1][4])
    shutil.rmtree(calls[1][4])  # the fake mount left the bundle in the mount point dir


def test_stick_refuses_redaction_headless(store: Store, out_dir: Path) -> None:
    outcome = run_stick("/dev/x", _cfg(store, redact=True), now=T0, mountpoint=out_dir,
                        label="EDGEWARDEN")
    assert outcome.status == "failed" and "identity" in outcome.detail


@pytest.mark.slow
def test_stick_on_a_loop_mounted_image(store: Store, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a loop device needs root")
    if not Path("/dev/loop-control").exists() or shutil.which("mkfs.ext4") is None:
        pytest.skip("no loop devices or mkfs.ext4 here")
    image = tmp_path / "stick.img"
    with open(image, "wb") as f:
        f.truncate(32 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-L", "EDGEWARDEN", str(image)], check=True)
    attach = subprocess.run(["losetup", "--find", "--show", str(image)],
                            capture_output=True, text=True, check=False)
    if attach.returncode != 0:
        pytest.skip(f"losetup failed: {attach.stderr.strip()}")
    device = attach.stdout.strip()
    try:
        outcome = run_stick(device, _cfg(store, default_days=1e5), now=T0 + 1e4)
        if outcome.status == "failed" and "mount failed" in outcome.detail:
            pytest.skip(f"cannot mount here: {outcome.detail}")
        assert outcome.status == "exported", outcome.detail
        mnt = tmp_path / "mnt"
        mnt.mkdir()
        subprocess.run(["mount", "-o", "ro", device, str(mnt)], check=True)
        try:
            bundles = [p for p in mnt.iterdir() if p.name.startswith("edgewarden-")]
            assert len(bundles) == 1 and verify_bundle(bundles[0]).ok
        finally:
            subprocess.run(["umount", str(mnt)], check=True)
    finally:
        subprocess.run(["losetup", "-d", device], check=False)
