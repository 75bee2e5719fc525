"""Plate reads' own retention: reads of vehicles on no list go sooner than hits.

Real writer, real PlateRecords, real verify: the unlisted read and its media expire after
`retention_days.plate_unlisted`, the hit stays; `verify` with the retention accepts the
tombstones and refuses one that expired a class earlier than its retention allows.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from controller.config import CameraConfig, StoreConfig
from controller.config.schema import RETENTION_CLASSES
from controller.plates.register import Register, make_entry
from controller.plates.stage import TrackPlate
from controller.service.plate_records import PlateRecords
from controller.store import RecordWriter
from controller.store.records import KINDS
from controller.store.retention_class import SPLITS, UNLISTED, class_of
from controller.store.tombstone import source_for
from controller.store.verify import verify_store

from .conftest import Store

DAY = 86_400.0
HIT, UNLISTED_PLATE = "KJA407XY", "XYZ999AA"
CAM = CameraConfig(name="gate", source="x", plates=True)


def _read(text: str) -> TrackPlate:
    rng = np.random.default_rng(len(text) + ord(text[0]))
    vehicle = rng.integers(0, 255, (120, 200, 3), dtype=np.uint8)
    return TrackPlate("gate", 1, "car", text, 0.9, 2, 2, 10.0, 11.0, vehicle[40:80, 50:150],
                      vehicle, (50, 40, 150, 80))


def _write_reads(store: Store, cfg: StoreConfig, when: float) -> None:
    """A watch hit and a vehicle on no list, read at wall time `when`."""
    register = Register([make_entry(HIT, "watch")])
    with RecordWriter.open(store.data_dir, cfg, wall=lambda: when) as w:
        records = PlateRecords(w, lambda: register, lambda ch, t: None, lambda: None)
        records.on_read(CAM, _read(HIT))
        records.on_read(CAM, _read(UNLISTED_PLATE))
        w.flush(10)


def _plates(store: Store) -> list[tuple[int, str, bool, list[str]]]:
    """(seq, severity, body kept, media states) of each plate record."""
    with sqlite3.connect(store.data_dir / "records.db") as c:
        rows = c.execute("SELECT r.seq, r.severity, b.seq IS NOT NULL FROM records r "
                         "LEFT JOIN bodies b ON b.seq = r.seq WHERE r.kind = 'plate' "
                         "ORDER BY r.seq").fetchall()
        return [(seq, sev, bool(kept), [s for (s,) in c.execute(
            "SELECT state FROM media WHERE seq = ?", (seq,))]) for seq, sev, kept in rows]


def _media_files(store: Store) -> set[str]:
    return {p.name for p in (store.data_dir / "media").glob("*.age")}


def test_defaults_split_plate_reads() -> None:
    days = StoreConfig().retention_days
    assert days["plate_unlisted"] == 7.0 and days["plate"] == 30.0
    # the config may name exactly the store's classes (it cannot import the store)
    assert (*KINDS, *SPLITS) == RETENTION_CLASSES
    assert StoreConfig(retention_days={"plate": 0.0, "plate_unlisted": 7.0})  # hits forever
    assert class_of("plate", UNLISTED) == "plate_unlisted"
    assert class_of("plate", "warning") == class_of("plate", "info") == "plate"


def test_an_unlisted_read_expires_before_a_hit_and_verify_accepts(store: Store) -> None:
    cfg = StoreConfig(commit_interval_ms=5)
    _write_reads(store, cfg, time.time() - 40 * DAY)  # older than both retentions
    _write_reads(store, cfg, time.time() - 10 * DAY)  # older than 7 days, younger than 30
    (_, old_hit_sev, _, _), (_, old_sev, _, _), (hit, _, _, _), (gone, _, _, _) = \
        _plates(store)
    assert (old_hit_sev, old_sev) == ("warning", UNLISTED)
    before = _media_files(store)
    with RecordWriter.open(store.data_dir, cfg) as w:
        report = w.enforce_retention()
    assert report.expired == {"plate": 1, "plate_unlisted": 2}
    assert report.media_deleted == 6  # each read's plate crop and vehicle snapshot
    # the old epoch held nothing else: shredded, its headers gone with its key
    assert report.shredded_epochs == (0,)
    assert _plates(store) == [(hit, "warning", True, ["stored", "stored"]),
                              (gone, UNLISTED, False, ["expired", "expired"])]
    assert len(before - _media_files(store)) == 6 and len(_media_files(store)) == 2
    verdict = verify_store(store.data_dir, store.seed, store.identity,
                           retention_days=cfg.retention_days)
    assert verdict.ok, verdict.problems


def test_without_plate_unlisted_listed_unlisted_reads_follow_plate(store: Store) -> None:
    cfg = StoreConfig(commit_interval_ms=5, retention_days={"plate": 30.0})
    _write_reads(store, cfg, time.time() - 40 * DAY)
    _write_reads(store, cfg, time.time() - 10 * DAY)
    with RecordWriter.open(store.data_dir, cfg) as w:
        report = w.enforce_retention()
    assert report.expired == {"plate": 1, "plate_unlisted": 1}
    assert report.shredded_epochs == (0,)
    assert [kept for _, _, kept, _ in _plates(store)] == [True, True]
    verdict = verify_store(store.data_dir, store.seed, store.identity,
                           retention_days=cfg.retention_days)
    assert verdict.ok, verdict.problems


def _forge(store: Store, cfg: StoreConfig, cls: str, age_days: float, seq: int) -> None:
    """What a thief with the current epoch's key can do: chain a retention tombstone
    claiming `cls` expired up to `age_days` ago, then delete record `seq`'s body."""
    now = time.time()
    with RecordWriter.open(store.data_dir, cfg) as w:
        assert w.append("audit", source_for({"why": "retention", "at": now,
                                             "cutoffs": {cls: now - age_days * DAY}}),
                        "info", {"action": "retention-expire"}).wait_durable(10)
    with sqlite3.connect(store.data_dir / "records.db", isolation_level=None) as c:
        c.execute("DELETE FROM bodies WHERE seq = ?", (seq,))


def test_a_tombstone_too_early_for_unlisted_reads_fails(store: Store) -> None:
    cfg = StoreConfig(commit_interval_ms=5)
    _write_reads(store, cfg, time.time() - 3 * DAY)  # younger than even 7 days
    _, (unlisted, _, _, _) = _plates(store)
    _forge(store, cfg, "plate_unlisted", 2.0, unlisted)
    verdict = verify_store(store.data_dir, store.seed, store.identity,
                           retention_days=cfg.retention_days)
    assert any("plate_unlisted records up to 2.0 days old" in p and "7 days" in p
               for p in verdict.problems), verdict.problems
    # the CLI with the site's config says the same and fails
    config = store.data_dir.parent / "site.toml"
    config.write_text("[store.retention_days]\nplate = 30\nplate_unlisted = 7\n")
    proc = subprocess.run(
        [sys.executable, "-m", "controller", "verify", "--data-dir", str(store.data_dir),
         "--verification-key", store.verification_key, "--config", str(config)],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0 and "plate_unlisted records up to 2.0 days old" in proc.stdout


def test_a_hit_cannot_be_expired_as_an_unlisted_read(store: Store) -> None:
    cfg = StoreConfig(commit_interval_ms=5)
    _write_reads(store, cfg, time.time() - 10 * DAY)
    (hit, _, _, _), _ = _plates(store)
    # 8 days is legitimate for unlisted reads, but the hit is of the class `plate` (30)
    _forge(store, cfg, "plate_unlisted", 8.0, hit)
    verdict = verify_store(store.data_dir, store.seed, store.identity,
                           retention_days=cfg.retention_days)
    assert any(f"record {hit} (plate): body missing" in p for p in verdict.problems), \
        verdict.problems
    assert not any("plate_unlisted records" in p for p in verdict.problems)


def test_a_tombstone_too_early_for_hits_fails(store: Store) -> None:
    cfg = StoreConfig(commit_interval_ms=5)
    _write_reads(store, cfg, time.time() - 10 * DAY)
    (hit, _, _, _), _ = _plates(store)
    _forge(store, cfg, "plate", 8.0, hit)
    verdict = verify_store(store.data_dir, store.seed, store.identity,
                           retention_days=cfg.retention_days)
    assert any("plate records up to 8.0 days old" in p and "30 days" in p
               for p in verdict.problems), verdict.problems


def test_plate_text_is_not_in_the_database_file(store: Store) -> None:
    cfg = StoreConfig(commit_interval_ms=5)
    _write_reads(store, cfg, time.time())
    files = [p for p in Path(store.data_dir).glob("records.db*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        for text in (HIT, UNLISTED_PLATE):
            assert text.encode() not in data and text.encode("utf-16-le") not in data
