"""`verify` and `verify-bundle` share one chain/seal check: the same tampering of the
same records is caught by both, on a real store and on a bundle re-signed with the device
key (as its thief could), so only the chain and the seals are left to object."""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.evidence import Selection, export_bundle, verify_bundle
from controller.store import verify_store
from controller.store.keyschedule import key_at, seal_key
from controller.store.sealing import Seal, make_seal
from tests.evidence.conftest import T0, Store, build_store
from tests.evidence.test_tamper import _resign

Lines = list[dict[str, Any]]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Path]:
    root = tmp_path_factory.mktemp("one-verifier")
    store = build_store(root, epochs=3, per_epoch=24)
    out = root / "out"
    out.mkdir()
    bundle = export_bundle(store.data_dir, out, Selection(), now=T0, name="b").path
    assert verify_store(store.data_dir, store.seed, store.identity).ok
    assert verify_bundle(bundle, seed=store.seed, identity=store.identity).ok
    return store, bundle


def _flip_hex(value: str, i: int) -> str:
    raw = bytearray(bytes.fromhex(value))
    raw[i % len(raw)] ^= 1 << (i % 8)
    return raw.hex()


def _flip_b64(value: str, i: int) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[i % len(raw)] ^= 1 << (i % 8)
    return base64.b64encode(bytes(raw)).decode()


# one tampering, applied alike to the store's rows and to the bundle's lines
def _store_rows(c: sqlite3.Connection) -> list[int]:
    return [r[0] for r in c.execute("SELECT seq FROM records ORDER BY seq")]


def tamper_store(data_dir: Path, what: str, n: int, i: int) -> None:
    c = sqlite3.connect(data_dir / "records.db", isolation_level=None)
    seqs = _store_rows(c)
    seq = seqs[n % len(seqs)]
    if what == "ct":
        ct = bytes(c.execute("SELECT ct FROM bodies WHERE seq = ?", (seq,)).fetchone()[0])
        c.execute("UPDATE bodies SET ct = ? WHERE seq = ?",
                  (base64.b64decode(_flip_b64(base64.b64encode(ct).decode(), i)), seq))
    elif what in ("body_hash", "prev_hash"):
        old = bytes(c.execute(f"SELECT {what} FROM records WHERE seq = ?", (seq,)).fetchone()[0])
        c.execute(f"UPDATE records SET {what} = ? WHERE seq = ?",
                  (bytes.fromhex(_flip_hex(old.hex(), i)), seq))
    elif what == "t_wall":
        c.execute("UPDATE records SET t_wall = t_wall + ? WHERE seq = ?", (1 + i, seq))
    elif what == "drop":
        c.execute("DELETE FROM records WHERE seq = ?", (seq,))
        c.execute("DELETE FROM bodies WHERE seq = ?", (seq,))
    elif what == "swap":
        other = seqs[(n + 1) % len(seqs)]
        cols = "t_wall, epoch, kind, source, severity, prev_hash, body_hash"
        a = c.execute(f"SELECT {cols} FROM records WHERE seq = ?", (seq,)).fetchone()
        b = c.execute(f"SELECT {cols} FROM records WHERE seq = ?", (other,)).fetchone()
        sets = ", ".join(f"{x} = ?" for x in cols.split(", "))
        c.execute(f"UPDATE records SET {sets} WHERE seq = ?", (*b, seq))
        c.execute(f"UPDATE records SET {sets} WHERE seq = ?", (*a, other))
    c.close()


def tamper_lines(what: str, n: int, i: int) -> Callable[[Lines], None]:
    def edit(lines: Lines) -> None:
        k = n % len(lines)
        line = lines[k]
        if what == "ct":
            line["ct"] = _flip_b64(str(line["ct"]), i)
        elif what in ("body_hash", "prev_hash"):
            line[what] = _flip_hex(str(line[what]), i)
        elif what == "t_wall":
            line["t_wall"] = float(line["t_wall"]) + 1 + i
        elif what == "drop":
            del lines[k]
        elif what == "swap":
            j = (k + 1) % len(lines)
            lines[k], lines[j] = lines[j], lines[k]
    return edit


TAMPERINGS = ("ct", "body_hash", "prev_hash", "t_wall", "drop", "swap")
few = settings(max_examples=12, deadline=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture,
                                      HealthCheck.too_slow])


@few
@given(what=st.sampled_from(TAMPERINGS), n=st.integers(0, 10_000), i=st.integers(0, 4096))
def test_the_same_tampering_is_caught_by_both_callers(
        built: tuple[Store, Path], tmp_path_factory: pytest.TempPathFactory, what: str,
        n: int, i: int) -> None:
    store, bundle = built
    work = tmp_path_factory.mktemp("t")
    data = work / "data"
    shutil.copytree(store.data_dir, data)
    tamper_store(data, what, n, i)
    report = verify_store(data, store.seed)
    assert not report.ok, ("verify", what, n)
    copy = work / "b"
    shutil.copytree(bundle, copy)
    _resign(copy, _as_store(store, data), tamper_lines(what, n, i))
    bundle_report = verify_bundle(copy, seed=store.seed)
    assert not bundle_report.ok, ("verify-bundle", what, n)
    shutil.rmtree(work)


def _as_store(store: Store, data_dir: Path) -> Store:
    return Store(data_dir, store.identity, store.identity_file, store.seed,
                 store.verification_key)


@few
@given(n=st.integers(0, 10_000), later=st.integers(1, 3))
def test_a_seal_made_with_another_epochs_key_is_caught_by_both(
        built: tuple[Store, Path], tmp_path_factory: pytest.TempPathFactory, n: int,
        later: int) -> None:
    store, bundle = built
    work = tmp_path_factory.mktemp("s")
    data = work / "data"
    shutil.copytree(store.data_dir, data)
    c = sqlite3.connect(data / "records.db", isolation_level=None)
    rows = c.execute("SELECT seal_no, epoch, kind, last_seq, last_hash, t_wall, prev_mac, mac "
                     "FROM seals ORDER BY seal_no").fetchall()
    s = Seal(*rows[n % len(rows)])
    store_id = bytes.fromhex(json.loads((data / "store.json").read_text())["store_id"])
    forged = make_seal(seal_key(key_at(store.seed, s.epoch + later)), store_id,
                       seal_no=s.seal_no, epoch=s.epoch, kind=s.kind, last_seq=s.last_seq,
                       last_hash=bytes(s.last_hash), t_wall=s.t_wall,
                       prev_mac=bytes(s.prev_mac))
    c.execute("UPDATE seals SET mac = ? WHERE seal_no = ?", (forged.mac, s.seal_no))
    c.close()
    expect = f"seal {s.seal_no} (epoch {s.epoch}): MAC was not made with the key of epoch"
    assert any(expect in p for p in verify_store(data, store.seed).problems)

    copy = work / "b"
    shutil.copytree(bundle, copy)
    seals_file = copy / "data" / "seals.jsonl"
    lines = [json.loads(x) for x in seals_file.read_text().splitlines()]
    for line in lines:
        if line["seal_no"] == s.seal_no:
            line["mac"] = forged.mac.hex()
    seals_file.write_text("".join(json.dumps(x, sort_keys=True, separators=(",", ":")) + "\n"
                                  for x in lines))
    _resign_seals(copy, _as_store(store, data))
    report = verify_bundle(copy, seed=store.seed)
    assert any(expect in p for p in report.problems), report.problems
    shutil.rmtree(work)


def _resign_seals(bundle: Path, store: Store) -> None:
    """Re-hash seals.jsonl into the signed manifest and the bag, as the device key can."""
    import hashlib

    import bagit

    from controller.evidence import manifest as mf

    data = bundle / "data"
    doc = json.loads((data / mf.MANIFEST_NAME).read_bytes())
    doc["files"]["seals.jsonl"] = hashlib.sha256((data / "seals.jsonl").read_bytes()).hexdigest()
    raw = mf.encode_manifest(doc)
    key = mf.load_signing_key((store.data_dir / "keys/signing.key").read_bytes())
    (data / mf.MANIFEST_NAME).write_bytes(raw)
    (data / mf.SIGNATURE_NAME).write_bytes(mf.sign(key, raw))
    bagit.Bag(str(bundle)).save(manifests=True)
