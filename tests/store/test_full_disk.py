"""A full disk on a small real file system: rollover, reserve, shedding, counts."""

from __future__ import annotations

import errno
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from controller.config import StoreConfig
from controller.store import HistoryReader, RecordWriter, verify_store

from .conftest import make_store
from .small_fs import fill_up, mounted_tmpfs


def _wait(pred, timeout: float = 20.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_disk_full_at_rollover_then_freed_loses_nothing_and_verifies(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "mnt", 24) as mnt:
        store = make_store(mnt)
        # no reserve: the rollover itself meets the full disk
        cfg = StoreConfig(commit_interval_ms=5, seal_every_records=20, epoch_seconds=1,
                          reserved_space_mb=0, shed_margin_mb=0)
        with RecordWriter.open(store.data_dir, cfg) as w:
            stored = [w.append("alarm", "n", "warning", {"i": i}) for i in range(50)]
            assert stored[-1].wait_durable(5)
            first_epoch = w.stats.epoch
            fill_up(mnt / "filler")
            # rollovers now fail: the writer says so, and does not spin on end seals
            _wait(lambda: w.stats.state == "failing", what="the store to report failing")
            assert "rollover" in (w.stats.failure or "")
            lost = w.append("alarm", "n", "warning", {"lost": True})
            time.sleep(3)
            with sqlite3.connect(f"file:{store.data_dir / 'records.db'}?mode=ro",
                                 uri=True) as c:
                seals_while_full = c.execute("SELECT COUNT(*) FROM seals").fetchone()[0]
            assert seals_while_full < 60  # the broken writer wrote ~1,000 a second
            assert w.stats.not_stored >= 1 and not lost.durable
            (mnt / "filler").unlink()
            _wait(lambda: w.stats.state == "ok" and w.stats.epoch > first_epoch + 1,
                  what="the rollover to succeed once space is back")
            after = w.append("alarm", "n", "warning", {"after": True})
            assert after.wait_durable(5)
        report = verify_store(store.data_dir, store.seed, store.identity)
        assert report.ok, report.problems
        with HistoryReader(store.data_dir, store.identity) as h:
            bodies = [r.body for r in h.records(kinds=["alarm"])]
        assert [b for b in bodies if "i" in b] == [{"i": i} for i in range(50)]
        assert {"after": True} in bodies
        assert shutil.disk_usage(mnt).free > 0


def test_shedding_hands_space_back_to_the_file_system_and_stops_at_the_target(
    tmp_path: Path,
) -> None:
    with mounted_tmpfs(tmp_path / "mnt", 48) as mnt:
        store = make_store(mnt)
        cfg = StoreConfig(commit_interval_ms=5, seal_every_records=500, reserved_space_mb=6,
                          shed_margin_mb=3)
        with RecordWriter.open(store.data_dir, cfg) as w:
            pad = "x" * 400
            for i in range(30_000):
                w.append("reading", "n", "info", {"i": i, "pad": pad})
            assert w.flush(30)
            fill_up(mnt / "filler")
            db_before = _db_bytes(store.data_dir)
            alarm = w.append("alarm", "n", "warning", {"disk": "full"})
            assert alarm.wait_durable(10)
            assert w.stats.shed_readings > 0
            # only as many as the target needs, not every reading body
            assert w.stats.shed_readings < 30_000
            assert _db_bytes(store.data_dir) < db_before
            assert shutil.disk_usage(mnt).free + w.stats.reserve_bytes >= 9 << 20
        report = verify_store(store.data_dir, store.seed, store.identity)
        assert report.ok, report.problems


def _db_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("records.db*"))


def test_enospc_writing_the_evolved_key_never_seals_with_the_wrong_key(
    store_on_disk: tuple[Path, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: the end seal is durable, `seal.key.new` meets ENOSPC."""
    from controller.store import sealstate

    data_dir, s = store_on_disk
    real_store = sealstate.store
    failing = [True]

    def full_disk_store(path: Path, state: sealstate.SealState) -> None:
        if failing[0]:
            raise OSError(errno.ENOSPC, "No space left on device", str(path) + ".new")
        real_store(path, state)

    cfg = StoreConfig(commit_interval_ms=5, seal_every_records=10, epoch_seconds=1,
                      reserved_space_mb=0)
    with RecordWriter.open(data_dir, cfg) as w:
        assert w.append("alarm", "n", "warning", {"i": -1}).wait_durable(5)
        epoch = w.stats.epoch
        monkeypatch.setattr("controller.store.writer.sealstate.store", full_disk_store)
        durable = []
        deadline = time.monotonic() + 4
        i = 0
        while time.monotonic() < deadline:
            t = w.append("alarm", "n", "warning", {"i": i})
            i += 1
            time.sleep(0.01)
            durable.append(t)
        assert w.stats.state == "failing" and "ended" in (w.stats.failure or "")
        assert w.stats.epoch == epoch  # no epoch was opened without its key
        failing[0] = False
        _wait(lambda: w.stats.state == "ok" and w.stats.epoch > epoch, what="recovery")
        kept = [t.seq for t in durable if t._completion.event.wait(5) and t.error is None]
    with sqlite3.connect(f"file:{data_dir / 'records.db'}?mode=ro", uri=True) as c:
        ends = c.execute("SELECT epoch, COUNT(*) FROM seals WHERE kind = 'end' "
                         "GROUP BY epoch HAVING COUNT(*) > 1").fetchall()
        seals = c.execute("SELECT COUNT(*) FROM seals").fetchone()[0]
    assert ends == [] and seals < 600
    report = verify_store(data_dir, s.seed, s.identity)  # type: ignore[attr-defined]
    assert report.ok, report.problems
    with HistoryReader(data_dir, s.identity) as h:  # type: ignore[attr-defined]
        seqs = {r.seq for r in h.records(kinds=["alarm"])}
    assert set(kept) <= seqs


@pytest.fixture
def store_on_disk(tmp_path: Path) -> tuple[Path, object]:
    s = make_store(tmp_path)
    return s.data_dir, s
