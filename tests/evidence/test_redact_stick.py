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

from controller.config import Config, DeviceConfig, ExportConfig, StoreConfig
from controller.evidence import Selection, export_bundle, verify_bundle
from controller.evidence.redact import (
    box_regions,
    boxes_in,
    cascade_regions,
    cascades_available,
    locator_regions,
    merge_regions,
    redact_image,
    redact_media,
)
from controller.evidence.stick import MOUNT_OPTIONS, run_stick
from controller.store import RecordWriter, initialise
from tests.evidence.conftest import (
    T0,
    Store,
    clip_frames,
    decode_clip,
    encode_clip,
    snapshot_png,
)


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
    with pytest.raises(ValueError, match="cannot be redacted safely"):
        redact_image(snapshot_png(), "image/png", [], use_cascades=False)
    with pytest.raises(ValueError, match="cannot be redacted safely"):
        redact_media(encode_clip(clip_frames()), "video/mp4", [], use_cascades=False)


def _plate_scene() -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A grey noisy scene with a Russian-format licence plate nobody boxed."""
    rng = np.random.default_rng(1)
    image = (np.full((480, 640, 3), 90, np.int32) + rng.integers(0, 30, (480, 640, 3)))
    image = image.astype(np.uint8)
    x, y, w, h = 200, 300, 260, 56
    cv2.rectangle(image, (x, y), (x + w, y + h), (255, 255, 255), -1)
    cv2.rectangle(image, (x, y), (x + w, y + h), (0, 0, 0), 3)
    cv2.putText(image, "A123BC", (x + 10, y + 45), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (0, 0, 0), 4)
    cv2.putText(image, "77", (x + 200, y + 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 3)
    return image, (x, y, w, h)


def test_shipped_cascades_find_a_plate_the_detector_did_not_box() -> None:
    assert cascades_available(), "OpenCV 4.x wheels ship the Haar cascades (pinned <5)"
    image, (x, y, w, h) = _plate_scene()
    ok, png = cv2.imencode(".png", image)
    assert ok
    out = redact_image(png.tobytes(), "image/png", [])
    assert out.methods == ("opencv-haar", "plate-locator") and out.regions >= 1
    red = _decode(out.data)
    plate = (slice(y + 8, y + h - 8), slice(x + 8, x + w - 8))
    assert _detail(red[plate]) < _detail(image[plate]) / 3  # the characters are gone
    assert np.array_equal(red[:100, :100], image[:100, :100])


def test_clip_frames_are_all_obscured_where_the_track_went() -> None:
    frames = clip_frames(14)
    clip = encode_clip(frames)
    # boxes only: the frames are white noise, which the plate locator finds everywhere
    out = redact_media(clip, "video/mp4", [(0.25, 0.25, 0.75, 0.75)], use_cascades=False)
    assert out.content_type == "video/mp4" and out.frames == 14
    assert out.methods == ("detector-boxes",)
    red, plain = decode_clip(out.data), decode_clip(clip)
    assert len(red) == len(plain) == 14
    for before, after in zip(plain, red, strict=True):
        # the object's rim (box grown by the margin) lost its texture in every frame
        assert _detail(after[91:95, 36:124]) < _detail(before[91:95, 36:124]) / 2
        # far from the box the frame is still the scene (mp4v is lossy: close, not equal)
        assert abs(_detail(after[:20, :20]) - _detail(before[:20, :20])) < 15


def test_a_plate_in_a_clip_is_found_in_every_frame() -> None:
    image, (x, y, w, h) = _plate_scene()
    frames = [image.copy() for _ in range(16)]
    out = redact_media(encode_clip(frames, fps=15.0), "video/mp4", [])
    assert out.methods == ("opencv-haar", "plate-locator")
    plate = (slice(y + 8, y + h - 8), slice(x + 8, x + w - 8))
    for after in decode_clip(out.data):
        assert _detail(after[plate]) < _detail(image[plate]) / 3


def test_an_undecodable_clip_is_refused_not_passed_through() -> None:
    with pytest.raises(ValueError, match="not a decodable video/mp4 clip"):
        redact_media(b"\x00\x00\x00\x18ftypmp42 not really" * 20, "video/mp4",
                     [(0.1, 0.1, 0.2, 0.2)])


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
    assert states == {"redacted"}  # snapshots and clips blurred
    assert not (result.path / "data/media").exists()  # no original leaves the device
    red = [e for e in doc["media"] if e["state"] == "redacted"]
    assert all(e["regions"] >= 1 and "detector-boxes" in e["methods"] for e in red)
    clips = [e for e in red if e["content_type"] == "video/mp4"]
    snaps = [e for e in red if e["content_type"] == "image/png"]
    assert clips and snaps and all(e["frames"] == 12 for e in clips)
    clip = pyrage.decrypt((result.path / "data/redacted" /
                           f"{clips[0]['redacted_sha256']}.age").read_bytes(), [store.identity])
    first = decode_clip(clip)[0]
    assert _detail(first[91:95, 36:124]) < _detail(clip_frames()[0][91:95, 36:124]) / 2
    plain = pyrage.decrypt((result.path / "data/redacted" /
                            f"{snaps[0]['redacted_sha256']}.age").read_bytes(),
                           [store.identity])
    image = _decode(plain)
    original = _decode(snapshot_png())
    # the event's box (0.25..0.75) grown by the margin: its noisy rim is obscured
    assert _detail(image[91:95, 36:124]) < _detail(original[91:95, 36:124]) / 2
    # nothing outside the box and what the searches find is touched (on white noise the
    # plate locator finds plate-like texture nearly everywhere: the safe side)
    untouched = ~_searched_mask(original, [(0.25, 0.25, 0.75, 0.75)])
    assert untouched.any() and np.array_equal(image[untouched], original[untouched])
    assert verify_bundle(result.path, identity=store.identity, seed=store.seed).ok


def _searched_mask(image: np.ndarray, boxes: list[tuple[float, float, float, float]]
                   ) -> np.ndarray:
    """Pixels a redaction may change: the boxes and what cascades and locator find, each
    grown by the margin (and a pixel of resampling)."""
    height, width = image.shape[:2]
    mask = np.zeros((height, width), bool)
    regions = (box_regions(boxes, width, height) + cascade_regions(image)
               + locator_regions(image))
    for x, y, w, h in regions:
        px, py = int(w * 0.08) + 1, int(h * 0.08) + 1
        mask[max(0, y - py):y + h + py, max(0, x - px):x + w + px] = True
    return mask


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


def test_merged_regions_cover_every_box_with_few_rectangles() -> None:
    # a track: 200 boxes of 100x60 drifting right by 2 px per frame
    track = [(10 + 2 * i, 50, 100, 60) for i in range(200)]
    merged = merge_regions(track)
    assert len(merged) <= 20
    for x, y, w, h in track:
        assert any(mx <= x and my <= y and x + w <= mx + mw and y + h <= my + mh
                   for mx, my, mw, mh in merged)
    # what is covered stays close to what was boxed: no rectangle much larger than a box
    assert all(mw * mh <= 1.25 * 100 * 60 for _, _, mw, mh in merged)


def _shared_clip_store(tmp_path: Path) -> Store:
    """Two events seen during one recording: both records name the same clip file."""
    identity = pyrage.x25519.Identity.generate()
    data_dir = tmp_path / "data"
    result = initialise(data_dir, passphrase=None, identity_on_device=False,
                        extra_recipients=[str(identity.to_public())])
    cfg = StoreConfig(commit_interval_ms=5, seal_every_records=4, reserved_space_mb=1,
                      shed_margin_mb=1)
    with RecordWriter.open(data_dir, cfg) as w:
        clip = w.add_media(encode_clip(clip_frames()), "video/mp4")
        w.append("event", "cam0", "warning", {"track": [{"box": [0.05, 0.05, 0.3, 0.3]}]},
                 [clip], t_wall=T0 + 10)
        last = w.append("event", "cam0", "warning",
                        {"track": [{"box": [0.6, 0.6, 0.95, 0.95]}]}, [clip], t_wall=T0 + 20)
        assert last.wait_durable(10)
    return Store(data_dir, identity, tmp_path / "unused", b"", result.verification_key)


def test_a_clip_shared_by_two_events_is_copied_once(tmp_path: Path) -> None:
    store = _shared_clip_store(tmp_path)
    out = tmp_path / "stick"
    out.mkdir()
    result = export_bundle(store.data_dir, out, Selection(), now=T0 + 60)
    assert result.media_files == 1 and len(list((result.path / "data/media").iterdir())) == 1
    assert verify_bundle(result.path, identity=store.identity).ok


def test_a_shared_clip_hides_the_boxes_of_every_event_in_it(tmp_path: Path) -> None:
    store = _shared_clip_store(tmp_path)
    out = tmp_path / "stick"
    out.mkdir()
    only_first = Selection(until=T0 + 15)  # the second event is not even exported
    result = export_bundle(store.data_dir, out, only_first, now=T0 + 60,
                           identity=store.identity, redact=True)
    doc = json.loads((result.path / "data/bundle.json").read_text())
    (entry,) = doc["media"]
    assert entry["state"] == "redacted"
    clip = pyrage.decrypt((result.path / f"data/redacted/{entry['redacted_sha256']}.age")
                          .read_bytes(), [store.identity])
    before, after = clip_frames()[0], decode_clip(clip)[0]
    first_box = (slice(10, 32), slice(12, 44))    # event 1: 0.05..0.3
    second_box = (slice(76, 110), slice(100, 148))  # event 2: 0.6..0.95
    for region in (first_box, second_box):
        assert _detail(after[region]) < _detail(before[region]) / 2
