"""Every tampering the issue lists is found by verify, and nothing else is reported."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest

from controller.config import StoreConfig
from controller.store import RecordWriter, verify_store
from controller.store.keyschedule import key_at, seal_key
from controller.store.sealing import make_seal
from tests.store.conftest import Store, fill


def db(store: Store) -> sqlite3.Connection:
    return sqlite3.connect(store.data_dir / "records.db", isolation_level=None)


@pytest.fixture
def filled(store: Store, cfg: StoreConfig) -> Store:
    fill(store, cfg)
    report = verify_store(store.data_dir, store.seed, store.identity)
    assert report.ok, report.problems
    assert report.records == 360
    return store


def problems(store: Store, with_identity: bool = False) -> list[str]:
    report = verify_store(store.data_dir, store.seed, store.identity if with_identity else None)
    assert not report.ok
    return report.problems


def test_flipped_ciphertext_byte_is_found(filled: Store) -> None:
    c = db(filled)
    ct = bytearray(c.execute("SELECT ct FROM bodies WHERE seq = 77").fetchone()[0])
    ct[5] ^= 0x01
    c.execute("UPDATE bodies SET ct = ? WHERE seq = 77", (bytes(ct),))
    assert any("record 77" in p and "ciphertext altered" in p for p in problems(filled))


def test_flipped_byte_with_rehashed_body_fails_the_chain_and_the_tag(filled: Store) -> None:
    c = db(filled)
    ct = bytearray(c.execute("SELECT ct FROM bodies WHERE seq = 77").fetchone()[0])
    ct[5] ^= 0x01
    c.execute("UPDATE bodies SET ct = ? WHERE seq = 77", (bytes(ct),))
    c.execute("UPDATE records SET body_hash = ? WHERE seq = 77",
              (hashlib.sha256(bytes(ct)).digest(),))
    found = problems(filled, with_identity=True)
    assert any("record 77: AEAD tag does not verify" in p for p in found)
    assert any("record 78: chain link broken" in p for p in found)


def test_deleted_row_is_found(filled: Store) -> None:
    c = db(filled)
    c.execute("DELETE FROM records WHERE seq = 150")
    c.execute("DELETE FROM bodies WHERE seq = 150")
    found = problems(filled)
    assert any("records 150 missing" in p for p in found)


def test_two_swapped_rows_are_found(filled: Store) -> None:
    c = db(filled)
    cols = "t_wall, epoch, kind, source, severity, prev_hash, body_hash"
    a = c.execute(f"SELECT {cols} FROM records WHERE seq = 200").fetchone()
    b = c.execute(f"SELECT {cols} FROM records WHERE seq = 201").fetchone()
    sets = ", ".join(f"{x} = ?" for x in cols.split(", "))
    c.execute(f"UPDATE records SET {sets} WHERE seq = 200", b)
    c.execute(f"UPDATE records SET {sets} WHERE seq = 201", a)
    cta = c.execute("SELECT ct FROM bodies WHERE seq = 200").fetchone()[0]
    ctb = c.execute("SELECT ct FROM bodies WHERE seq = 201").fetchone()[0]
    c.execute("UPDATE bodies SET ct = ? WHERE seq = 200", (ctb,))
    c.execute("UPDATE bodies SET ct = ? WHERE seq = 201", (cta,))
    assert any("record 200: chain link broken" in p for p in problems(filled))


def test_truncated_tail_is_found(filled: Store) -> None:
    c = db(filled)
    c.execute("DELETE FROM records WHERE seq > 340")
    c.execute("DELETE FROM bodies WHERE seq > 340")
    assert any("341..360 missing" in p for p in problems(filled))


def test_truncated_tail_with_its_seals_and_epoch_is_found(filled: Store) -> None:
    c = db(filled)
    c.execute("DELETE FROM records WHERE epoch = 2")
    c.execute("DELETE FROM bodies WHERE seq > 240")
    c.execute("DELETE FROM seals WHERE epoch = 2")
    c.execute("DELETE FROM epochs WHERE epoch = 2")
    assert any("truncated" in p for p in problems(filled))


def test_seal_recomputed_with_a_later_epochs_key_is_found(filled: Store) -> None:
    """The journald FSS flaw (CVE-2023-31439): a later key must not pass for an earlier epoch."""
    c = db(filled)
    row = c.execute("SELECT seal_no, epoch, kind, last_seq, last_hash, t_wall, prev_mac "
                    "FROM seals WHERE epoch = 0 ORDER BY seal_no LIMIT 1").fetchone()
    seal_no, epoch, kind, last_seq, last_hash, t_wall, prev_mac = row
    store_id = bytes.fromhex(json.loads((filled.data_dir / "store.json").read_text())["store_id"])
    later = seal_key(key_at(filled.seed, 1))
    forged = make_seal(later, store_id, seal_no=seal_no, epoch=epoch, kind=kind,
                       last_seq=last_seq, last_hash=bytes(last_hash), t_wall=t_wall,
                       prev_mac=bytes(prev_mac))
    c.execute("UPDATE seals SET mac = ? WHERE seal_no = ?", (forged.mac, seal_no))
    found = problems(filled)
    assert any(f"seal {seal_no} (epoch 0): MAC was not made with the key of epoch 0" in p
               for p in found)


def test_replaced_media_file_is_found(store: Store, cfg: StoreConfig) -> None:
    with RecordWriter.open(store.data_dir, cfg) as w:
        ref = w.add_media(b"\xff\xd8 snapshot", "image/jpeg")
        assert w.append("event", "cam0", "info", {"object": "car"}, media=[ref]).wait_durable(5)
    assert verify_store(store.data_dir, store.seed).ok
    path = store.data_dir / "media" / f"{ref.sha256}.age"
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    assert any("file replaced" in p for p in problems(store))


def test_wrong_verification_key_is_refused(filled: Store) -> None:
    from controller.errors import EdgewardenError

    with pytest.raises(EdgewardenError, match="not the key of this store"):
        verify_store(filled.data_dir, bytes(32))


def test_forged_seal_for_the_current_epoch_with_wrong_epoch_field(filled: Store) -> None:
    """A seal claiming epoch 1 over epoch-0 records is caught by the epoch check."""
    c = db(filled)
    c.execute("UPDATE seals SET epoch = 1 WHERE seal_no = 1")
    found = problems(filled)
    assert any("seal 1" in p for p in found)

