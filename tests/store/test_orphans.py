"""Media files a crash left without their record: `verify` reports them, the writer's next
start and retention remove them (never a file a record names)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from controller.config import StoreConfig
from controller.store import HistoryReader, RecordWriter, verify_store

from .conftest import Store

_CRASH = """
import os, sys
from controller.config import StoreConfig
from controller.store import RecordWriter
w = RecordWriter.open(sys.argv[1], StoreConfig(reserved_space_mb=0))
kept = w.add_media(b"kept" * 1000, "image/jpeg")
w.append("event", "cam0", "warning", {"n": 1}, media=[kept]).wait_durable(10)
w.add_media(b"lost" * 5000, "image/jpeg")  # the record of this one never comes
os._exit(9)  # a crash
"""


def _verify_cli(data_dir: Path, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller", "verify", "--data-dir", str(data_dir),
         "--verification-key", key], capture_output=True, text=True, timeout=120)


def test_a_crash_s_orphan_media_is_reported_then_removed(store: Store, cfg: StoreConfig) -> None:
    crash = subprocess.run([sys.executable, "-c", _CRASH, str(store.data_dir)],
                           capture_output=True, text=True, timeout=60)
    assert crash.returncode == 9, crash.stderr
    media_dir = store.data_dir / "media"
    assert len(list(media_dir.iterdir())) == 2
    result = _verify_cli(store.data_dir, store.verification_key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 orphan media file(s)" in result.stdout
    # the next start removes it, audits it, and keeps the file its record names
    with RecordWriter.open(store.data_dir, cfg) as w:
        assert w.flush(5)
    assert len(list(media_dir.iterdir())) == 1
    report = verify_store(store.data_dir, store.seed, store.identity)
    assert report.ok and report.orphan_media == 0 and report.media_files == 1, report.problems
    with HistoryReader(store.data_dir, store.identity) as h:
        audits = [r.body for r in h.records(kinds=["audit"])]
    assert {"action": "orphan-media-removed", "files": 1, "bytes": audits[-1]["bytes"]} \
        in audits


def test_retention_removes_old_orphans_but_not_a_file_in_flight(
    store: Store, cfg: StoreConfig
) -> None:
    with RecordWriter.open(store.data_dir, cfg) as w:
        ref = w.add_media(b"named" * 100, "image/jpeg")
        w.append("event", "cam0", "warning", {"n": 1}, media=[ref]).wait_durable(5)
        old = store.data_dir / "media" / ("ab" * 32 + ".age")
        old.write_bytes(b"left by a crash an hour ago")
        hour_ago = time.time() - 7200
        os.utime(old, (hour_ago, hour_ago))
        young = store.data_dir / "media" / ("cd" * 32 + ".age")
        young.write_bytes(b"its record is still queued")
        report = w.enforce_retention()
        assert report.orphan_media_deleted == 1
    assert not old.exists() and young.exists()
    assert (store.data_dir / "media" / f"{ref.sha256}.age").exists()
