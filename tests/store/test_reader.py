"""The store's read API: what export and status read, without SQL outside the store."""

from __future__ import annotations

from controller.config import StoreConfig
from controller.store import RecordWriter
from controller.store.reader import StoreReader, store_totals
from tests.store.conftest import Store, fill


def test_totals_and_reads_match_what_was_written(store: Store, cfg: StoreConfig) -> None:
    fill(store, cfg, epochs=2, per_epoch=30)
    with RecordWriter.open(store.data_dir, cfg) as w:
        ref = w.add_media(b"\xff\xd8 snapshot", "image/jpeg")
        assert w.append("event", "cam0", "info", {"object": "car"}, media=[ref]).wait_durable(5)
    db = store.data_dir / "records.db"
    totals = store_totals(db)
    assert totals is not None and totals.records == 61 and totals.sealed == 61
    with StoreReader(db) as reader, reader.snapshot():
        records = list(reader.records())
        assert [r.header.seq for r in records] == list(range(1, 62))
        assert all(r.ct is not None for r in records)
        assert [r.header.seq for r in reader.records(10, 12)] == [10, 11, 12]
        assert reader.last_seq() == 61 and reader.count() == 61
        seals = reader.seals()
        assert seals[-1].kind == "end" and seals[-1].last_seq == 61
        assert sorted(reader.epochs()) == [0, 1, 2]
        [media] = list(reader.media(state="stored"))
        assert media.seq == 61 and media.sha256 == ref.sha256
        assert [r.header.seq for r in reader.records_naming_media(ref.sha256)] == [61]
        assert [e for e, _ in reader.wrapped_keys({0, 2})] == [0, 2]
        assert reader.ciphertext_bytes(1, 61) == sum(len(r.ct or b"") for r in records)
        picked = [seq for seq, _, kind, _ in reader.headers_between(None, None)
                  if kind == "event"]
        assert picked == [61]


def test_status_totals_are_none_when_the_store_cannot_be_read(tmp_path: object) -> None:
    from pathlib import Path

    assert store_totals(Path(str(tmp_path)) / "missing.db") is None
