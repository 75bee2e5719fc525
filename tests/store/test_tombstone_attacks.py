"""Removal attacks on a store with no key at all: each must now fail `edgewarden verify`.

Legitimate removals (retention run by the writer, shedding) leave chained tombstones and
still verify; the same absence made by hand names what is missing. Real CLI, real store.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

from controller.config import StoreConfig
from controller.store import RecordWriter
from controller.store.tombstone import parse_source

from .conftest import Store, fill

DAY = 86_400.0


def verify(store: Store) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller", "verify", "--data-dir", str(store.data_dir),
         "--verification-key", store.verification_key],
        capture_output=True, text=True, timeout=120, check=False,
    )


def fails(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode != 0, result.stdout
    return [line for line in result.stdout.splitlines() if line.startswith("FAIL")]


def db(store: Store) -> sqlite3.Connection:
    return sqlite3.connect(store.data_dir / "records.db", isolation_level=None)


def test_legitimate_retention_leaves_tombstones_and_verifies(store: Store) -> None:
    old = time.time() - 40 * DAY
    cfg = StoreConfig(commit_interval_ms=5)
    with RecordWriter.open(store.data_dir, cfg, wall=lambda: old) as w:  # 40 days ago
        for i in range(20):
            w.append("reading", "n/t", "info", {"i": i})
        assert w.append("alarm", "n/door", "critical", {"door": 1}).wait_durable(10)
    with RecordWriter.open(store.data_dir, cfg) as w:
        w.append("reading", "n/t", "info", {"i": 99})
        report = w.enforce_retention()
    assert report.expired == {"reading": 20} and report.shredded_epochs == ()
    with db(store) as c:
        sources = [parse_source(s) for (s,) in c.execute("SELECT source FROM records")]
    assert any(d and d["why"] == "retention" for d in sources)
    result = verify(store)
    assert result.returncode == 0, result.stdout


def test_closed_epoch_marked_shredded_early_fails(store: Store, cfg: StoreConfig) -> None:
    fill(store, cfg, epochs=3, per_epoch=40)
    assert verify(store).returncode == 0
    with db(store) as c:
        hi = c.execute("SELECT MAX(last_seq) FROM seals WHERE epoch = 1").fetchone()[0]
        lo = c.execute("SELECT MAX(last_seq) FROM seals WHERE epoch = 0").fetchone()[0] + 1
        c.execute("UPDATE epochs SET wrapped_key = NULL, shredded_at = ? WHERE epoch = 1",
                  (time.time(),))
        c.execute("DELETE FROM bodies WHERE seq BETWEEN ? AND ?", (lo, hi))
        c.execute("DELETE FROM records WHERE seq BETWEEN ? AND ?", (lo, hi))
    lines = fails(verify(store))
    assert any("epoch 1" in line and "shredded" in line for line in lines), lines


def test_alarm_and_audit_bodies_deleted_to_look_expired_fail(store: Store,
                                                            cfg: StoreConfig) -> None:
    fill(store, cfg, epochs=2, per_epoch=40)
    with db(store) as c:
        alarm = c.execute("SELECT MIN(seq) FROM records WHERE kind = 'alarm'").fetchone()[0]
        c.execute("DELETE FROM bodies WHERE seq IN (SELECT seq FROM records "
                  "WHERE kind IN ('alarm', 'audit'))")
    lines = fails(verify(store))
    assert any(f"record {alarm} (alarm): body missing" in line for line in lines), lines


def test_media_files_deleted_and_marked_shed_fail(store: Store, cfg: StoreConfig) -> None:
    with RecordWriter.open(store.data_dir, cfg) as w:
        ref = w.add_media(b"\x89PNG snapshot of the burglar", "image/png")
        assert w.append("event", "cam0", "warning", {"label": "person"}, [ref]).wait_durable(10)
    assert verify(store).returncode == 0
    (store.data_dir / "media" / f"{ref.sha256}.age").unlink()
    with db(store) as c:
        c.execute("UPDATE media SET state = 'shed'")
    lines = fails(verify(store))
    assert any(ref.sha256[:16] in line and "'shed'" in line for line in lines), lines


def test_tail_cut_with_its_seals_and_seal_key_deleted_fails(store: Store,
                                                            cfg: StoreConfig) -> None:
    fill(store, cfg, epochs=3, per_epoch=40)
    with db(store) as c:
        lo = c.execute("SELECT MAX(last_seq) FROM seals WHERE epoch = 1").fetchone()[0] + 1
        c.execute("DELETE FROM bodies WHERE seq >= ?", (lo,))
        c.execute("DELETE FROM records WHERE seq >= ?", (lo,))
        c.execute("DELETE FROM seals WHERE epoch >= 2")
        c.execute("DELETE FROM epochs WHERE epoch >= 2")
    (store.data_dir / "keys" / "seal.key").unlink()
    lines = fails(verify(store))
    assert any("seal.key" in line and "missing" in line for line in lines), lines


def test_shedding_on_a_full_disk_leaves_tombstones_that_verify(store: Store) -> None:
    free = [10**12]
    cfg = StoreConfig(commit_interval_ms=5, reserved_space_mb=1, shed_margin_mb=1)
    with RecordWriter.open(store.data_dir, cfg, free_space=lambda: free[0]) as w:
        ref = w.add_media(b"x" * 4096, "image/png")
        w.append("event", "cam0", "warning", {"label": "person"}, [ref])
        for i in range(30):
            w.append("reading", "n/t", "info", {"i": i})
        w.flush(10)
        free[0] = 0  # the disk fills: media and readings are shed
        w.append("alarm", "n/door", "critical", {"door": 1}).wait_durable(10)
        w.flush(10)
    with db(store) as c:
        states = {s for (s,) in c.execute("SELECT state FROM media")}
        whys = {d["why"] for (s,) in c.execute("SELECT source FROM records")
                if (d := parse_source(s))}
    assert "shed" in states and {"shed-media", "shed-readings"} <= whys, (states, whys)
    result = verify(store)
    assert result.returncode == 0, result.stdout
