"""Writing, reading back, restarts, epochs, media, retention and a nearly full disk."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest

from controller.config import StoreConfig
from controller.store import HistoryReader, RecordNotStored, RecordWriter, verify_store
from controller.store.clock import STA_UNSYNC, TIME_ERROR, synced_from_timex
from controller.store.space import plan_space
from tests.store.conftest import Store, fill

DAY = 86_400.0


def test_records_read_back_with_filters_and_metadata(store: Store, cfg: StoreConfig) -> None:
    with RecordWriter.open(store.data_dir, cfg) as w:
        w.append("reading", "n1/temp", "info", {"v": 21.5}, t_wall=1000.0)
        w.append("alarm", "n1/temp", "high", {"state": "active-unack"}, t_wall=2000.0)
        last = w.append("reading", "n2/hum", "info", {"v": 40}, t_wall=3000.0)
        assert last.wait_durable(5) and last.seq == 3
    with HistoryReader(store.data_dir, store.identity) as h:
        everything = list(h.records())
        assert [r.body for r in everything] == [{"v": 21.5}, {"state": "active-unack"},
                                               {"v": 40}]
        assert [r.seq for r in h.records(kinds=["reading"])] == [1, 3]
        assert [r.seq for r in h.records(sources=["n2/hum"])] == [3]
        assert [r.seq for r in h.records(from_t=1500, to_t=3000)] == [2]
    first = everything[0]
    assert first.boot_id and first.t_mono is not None and isinstance(first.clock_synced, bool)


def test_nothing_but_the_header_is_plaintext(store: Store, cfg: StoreConfig) -> None:
    with RecordWriter.open(store.data_dir, cfg) as w:
        w.append("event", "cam0", "info", {"secret-label": "intruder-xyzzy"}).wait_durable(5)
    raw = b"".join(p.read_bytes() for p in store.data_dir.glob("records.db*"))
    assert b"intruder-xyzzy" not in raw and b"secret-label" not in raw


def test_restart_continues_the_chain_in_a_new_epoch(store: Store, cfg: StoreConfig) -> None:
    fill(store, cfg, epochs=3, per_epoch=30)
    report = verify_store(store.data_dir, store.seed, store.identity)
    assert report.ok and report.records == 90 and report.epochs == 3
    with HistoryReader(store.data_dir, store.identity) as h:
        assert sorted({r.epoch for r in h.records()}) == [0, 1, 2]


def test_epoch_rolls_over_on_time_and_old_key_is_erased(store: Store) -> None:
    now = [0.0]
    cfg = StoreConfig(commit_interval_ms=5, epoch_seconds=10)
    before = (store.data_dir / "keys" / "seal.key").read_bytes()
    with RecordWriter.open(store.data_dir, cfg, monotonic=lambda: now[0]) as w:
        assert w.append("reading", "a", "info", {"i": 1}).wait_durable(5)
        now[0] = 11.0
        assert w.append("reading", "a", "info", {"i": 2}).wait_durable(5)
        assert w.stats.epoch == 1
    assert (store.data_dir / "keys" / "seal.key").read_bytes() != before
    with sqlite3.connect(store.data_dir / "records.db") as c:
        assert [r[0] for r in c.execute("SELECT epoch FROM records ORDER BY seq")] == [0, 1]
    assert verify_store(store.data_dir, store.seed, store.identity).ok


def test_media_round_trip_and_file_mode(store: Store, cfg: StoreConfig) -> None:
    with RecordWriter.open(store.data_dir, cfg) as w:
        ref = w.add_media(b"\xff\xd8jpeg bytes", "image/jpeg")
        w.append("event", "cam0", "info", {"object": "car"}, media=[ref]).wait_durable(5)
    path = store.data_dir / "media" / f"{ref.sha256}.age"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"age-encryption.org/v1")
    with HistoryReader(store.data_dir, store.identity) as h:
        (event,) = list(h.records(kinds=["event"]))
        assert event.media == (ref,)
        assert h.media(ref) == b"\xff\xd8jpeg bytes"


def test_file_and_directory_modes(store: Store, cfg: StoreConfig) -> None:
    fill(store, cfg, epochs=1, per_epoch=5)
    d = store.data_dir
    for p in (d, d / "keys", d / "media"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o700, p
    for p in [d / "store.json", d / "records.db", *(d / "keys").iterdir(),
              *d.glob("records.db-*")]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


def test_bad_record_is_refused_and_nothing_is_lost(store: Store, cfg: StoreConfig) -> None:
    with RecordWriter.open(store.data_dir, cfg) as w:
        ok = w.append("alarm", "a", "high", {"x": 1})
        with pytest.raises(ValueError, match="unknown record kind"):
            w.append("gossip", "a", "info", {})
        with pytest.raises(ValueError, match="JSON"):
            w.append("reading", "a", "info", {"v": object()})
        assert ok.wait_durable(5)
    assert verify_store(store.data_dir, store.seed, store.identity).records == 1


def test_retention_expires_kinds_and_shreds_whole_epochs(store: Store) -> None:
    cfg = StoreConfig(commit_interval_ms=5, retention_days={"reading": 1.0, "alarm": 10.0})
    t0 = 1_000_000.0
    for e in range(3):
        with RecordWriter.open(store.data_dir, cfg) as w:
            for i in range(20):
                w.append("alarm" if (e == 2 and i == 0) else "reading", "n", "info",
                         {"e": e, "i": i}, t_wall=t0 + e * DAY + i)
            w.flush(5)
    with RecordWriter.open(store.data_dir, cfg) as w:
        report = w.enforce_retention(now=t0 + 2.5 * DAY)
    # epochs 0 and 1 held only readings older than a day: shredded; epoch 2 keeps its alarm
    assert report.shredded_epochs == (0, 1)
    assert report.expired == {"reading": 40}
    with sqlite3.connect(store.data_dir / "records.db") as c:
        keys = dict(c.execute("SELECT epoch, wrapped_key IS NOT NULL FROM epochs"))
    assert keys[0] == 0 and keys[1] == 0 and keys[2] == 1
    verdict = verify_store(store.data_dir, store.seed, store.identity)
    assert verdict.ok, verdict.problems
    assert verdict.shredded_epochs == 2
    with HistoryReader(store.data_dir, store.identity) as h:
        remaining = list(h.records())
    assert [r.body for r in remaining if r.kind == "alarm"] == [{"e": 2, "i": 0}]
    assert all(r.kind != "reading" or r.t_wall >= t0 + 1.5 * DAY for r in remaining)
    audits = [r.body for r in remaining if r.kind == "audit"]
    assert audits and audits[-1]["action"] == "retention"


def test_nearly_full_disk_sheds_media_then_readings_and_keeps_alarms(
    store: Store, cfg: StoreConfig
) -> None:
    free = [10 << 30]
    with RecordWriter.open(store.data_dir, cfg, free_space=lambda: free[0]) as w:
        refs = [w.add_media(b"x" * 1000, "image/jpeg") for _ in range(3)]
        for ref in refs:
            w.append("event", "cam0", "info", {"snap": ref.sha256}, media=[ref])
        for i in range(200):
            w.append("reading", "n", "info", {"i": i})
        assert w.flush(5)
        free[0] = 0  # the file system is full: only the writer's 1 MB reserve file is left
        with pytest.raises(RecordNotStored, match="not enough free space"):
            w.add_media(b"y" * 1000, "image/jpeg")
        dropped = w.append("reading", "n", "info", {"late": True})
        alarm = w.append("alarm", "n", "urgent", {"state": "active"})
        assert alarm.wait_durable(5)
        with pytest.raises(RecordNotStored, match="disk nearly full"):
            dropped.wait_durable(5)
        assert w.stats.shed_media_files == 3 and w.stats.shed_readings == 200
        assert w.stats.dropped_no_space == 1
    assert not list((store.data_dir / "media").iterdir())
    report = verify_store(store.data_dir, store.seed, store.identity)
    assert report.ok, report.problems
    with HistoryReader(store.data_dir, store.identity) as h:
        audits = [r.body["action"] for r in h.records(kinds=["audit"])]
        assert {"shed-media", "shed-readings", "dropped-records", "media-refused"} <= set(audits)
        assert [r.body for r in h.records(kinds=["alarm"])] == [{"state": "active"}]


def test_space_policy() -> None:
    mb = 1 << 20
    assert plan_space(500 * mb, 0, 64 * mb, 64 * mb, True).shed_media is False
    low = plan_space(100 * mb, 0, 64 * mb, 64 * mb, True)
    assert low.shed_media and not low.shed_readings and low.accept_unprotected
    no_media = plan_space(100 * mb, 0, 64 * mb, 64 * mb, False)
    assert no_media.shed_readings
    assert not plan_space(10 * mb, 0, 64 * mb, 64 * mb, False).accept_unprotected
    assert plan_space(10 * mb, 60 * mb, 64 * mb, 64 * mb, False).accept_unprotected
    # while part of the reserve file has been given back, only protected records
    assert not plan_space(500 * mb, 0, 64 * mb, 64 * mb, False,
                          reserve_intact=False).accept_unprotected
    # the floor: the reserve alone (a full disk) leaves no room for readings' own writes
    assert not plan_space(64 * mb, 0, 64 * mb, 64 * mb, False, floor=mb).accept_unprotected
    assert plan_space(66 * mb, 0, 64 * mb, 64 * mb, False, floor=mb).accept_unprotected


def test_clock_sync_rule() -> None:
    assert synced_from_timex(0, 0)
    assert not synced_from_timex(TIME_ERROR, 0)
    assert not synced_from_timex(0, STA_UNSYNC)


def test_writer_refuses_a_store_with_a_rewound_key(store: Store, cfg: StoreConfig) -> None:
    from controller.errors import EdgewardenError

    key = store.data_dir / "keys" / "seal.key"
    old = key.read_bytes()
    fill(store, cfg, epochs=2, per_epoch=3)
    key.unlink()
    fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, old)
    os.close(fd)
    with pytest.raises(EdgewardenError, match=r"seal\.key: sealing key is at epoch 0"):
        RecordWriter.open(store.data_dir, cfg)
