"""Any change to a bundle, and any bundle cut short, fails verification."""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.evidence import Selection, export_bundle, verify_bundle
from controller.evidence import manifest as mf
from tests.evidence.conftest import T0, Store


@pytest.fixture
def bundle(store: Store, out_dir: Path) -> Path:
    return export_bundle(store.data_dir, out_dir, Selection(), now=T0, name="b").path


def _flip(path: Path, where: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if where is None else where
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_flipping_a_bit_in_any_file_is_detected(store: Store, bundle: Path,
                                                tmp_path: Path) -> None:
    for victim in _files(bundle):
        copy = tmp_path / "copy"
        shutil.copytree(bundle, copy)
        target = copy / victim.relative_to(bundle)
        _flip(target)
        report = verify_bundle(copy)
        assert not report.ok, f"{victim.relative_to(bundle)} changed but bundle verified"
        shutil.rmtree(copy)


def _resign(bundle: Path, store: Store, edit: object) -> None:
    """Rewrite records.jsonl and re-make every hash and the signature with the device key,
    as a thief of the device could: only the chain and the seals are left to object."""
    import bagit

    data = bundle / "data"
    lines = [json.loads(x) for x in (data / "records.jsonl").read_text().splitlines()]
    edit(lines)  # type: ignore[operator]
    (data / "records.jsonl").write_text("".join(
        json.dumps(x, sort_keys=True, separators=(",", ":")) + "\n" for x in lines))
    doc = json.loads((data / mf.MANIFEST_NAME).read_bytes())
    import hashlib
    raw_records = (data / "records.jsonl").read_bytes()
    doc["files"]["records.jsonl"] = hashlib.sha256(raw_records).hexdigest()
    doc["segment"]["records"] = len(lines)
    if lines:
        doc["segment"]["last_seq"] = lines[-1]["seq"]
    raw = mf.encode_manifest(doc)
    key = mf.load_signing_key((store.data_dir / "keys/signing.key").read_bytes())
    (data / mf.MANIFEST_NAME).write_bytes(raw)
    (data / mf.SIGNATURE_NAME).write_bytes(mf.sign(key, raw))
    bag = bagit.Bag(str(bundle))
    bag.save(manifests=True)


def test_record_edits_with_a_valid_signature_still_fail(store: Store, bundle: Path,
                                                        tmp_path: Path) -> None:
    def drop_middle(lines: list[dict[str, object]]) -> None:
        del lines[len(lines) // 2]

    def swap(lines: list[dict[str, object]]) -> None:
        lines[10], lines[11] = lines[11], lines[10]

    def change_time(lines: list[dict[str, object]]) -> None:
        lines[20]["t_wall"] = float(lines[20]["t_wall"]) + 1  # type: ignore[arg-type]

    def change_ct(lines: list[dict[str, object]]) -> None:
        ct = bytearray(base64.b64decode(str(lines[30]["ct"])))
        ct[0] ^= 1
        lines[30]["ct"] = base64.b64encode(bytes(ct)).decode()

    def cut_tail(lines: list[dict[str, object]]) -> None:
        del lines[-5:]

    for edit in (drop_middle, swap, change_time, change_ct, cut_tail):
        copy = tmp_path / edit.__name__
        shutil.copytree(bundle, copy)
        _resign(copy, store, edit)
        report = verify_bundle(copy)
        assert not report.ok, edit.__name__


def test_ciphertext_swap_caught_by_tags(store: Store, bundle: Path) -> None:
    """Even a consistent body_hash for a forged ciphertext fails the AEAD tag and the chain."""
    import hashlib

    def forge(lines: list[dict[str, object]]) -> None:
        a, b = lines[3], lines[4]
        a["ct"], a["body_hash"] = b["ct"], b["body_hash"]

    _resign(bundle, store, forge)
    report = verify_bundle(bundle, identity=store.identity)
    assert not report.ok
    assert any("AEAD" in p or "chain" in p for p in report.problems)
    assert hashlib  # used for clarity of the forge above


def test_seal_forged_with_a_later_key_is_caught(store: Store, bundle: Path) -> None:
    report = verify_bundle(bundle, seed=store.seed)
    assert report.ok
    wrong = verify_bundle(bundle, seed=bytes(32))
    assert not wrong.ok


def test_signature_by_another_key_is_refused(store: Store, bundle: Path) -> None:
    other = verify_bundle(bundle, expected_signing_key="00" * 32)
    assert not other.ok
    assert verify_bundle(bundle, expected_signing_key=other.signing_key).ok


def test_truncated_bundles_never_verify(bundle: Path, tmp_path: Path) -> None:
    rng = random.Random(8)
    files = _files(bundle)
    for trial in range(25):
        copy = tmp_path / f"t{trial}"
        shutil.copytree(bundle, copy)
        victims = rng.sample(files, rng.randint(1, 3))
        for v in victims:
            target = copy / v.relative_to(bundle)
            if rng.random() < 0.3:
                target.unlink()
            else:
                size = target.stat().st_size
                os.truncate(target, rng.randrange(0, max(1, size)))
        assert not verify_bundle(copy).ok, [str(v.relative_to(bundle)) for v in victims]
        shutil.rmtree(copy)


def test_a_partial_export_never_verifies(bundle: Path, tmp_path: Path) -> None:
    partial = tmp_path / ".b.partial"
    shutil.copytree(bundle, partial)
    assert not verify_bundle(partial).ok


_KILL_SCRIPT = """
import sys, time
from pathlib import Path
from controller.evidence import Selection, export_bundle
export_bundle(Path(sys.argv[1]), Path(sys.argv[2]), Selection(), now=1.0, name="k")
"""


def test_killed_export_leaves_nothing_that_verifies(store: Store, out_dir: Path) -> None:
    rng = random.Random(3)
    for trial in range(6):
        proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(store.data_dir),
                                 str(out_dir)], cwd=Path(__file__).resolve().parents[2])
        time.sleep(rng.uniform(0.05, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for child in out_dir.iterdir():
            report = verify_bundle(child)
            # a finished bundle (the kill came late) is whole; nothing else verifies
            assert report.ok == (child.name == "k"), (trial, child.name, report.problems)
        for child in out_dir.iterdir():
            shutil.rmtree(child)
