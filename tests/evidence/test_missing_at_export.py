"""A medium marked stored on the device whose file is gone: the export still happens.

The investigator gets everything that exists; the bundle's signed contents declare the
medium missing at export; `export` warns in one line naming the record and the medium
and exits 0; `verify-bundle` reports the absence as a failure naming it (exit 1) and
still checks everything else. The device's own `verify` reports the missing file too.
Through the real CLI in a subprocess.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from controller.evidence import Selection, export_bundle, verify_bundle
from controller.store import HistoryReader, verify_store
from controller.store.layout import StoreLayout
from tests.evidence.conftest import T0, Store
from tests.evidence.test_bundle_contents import Doc, Lines, tamper

CLI = [sys.executable, "-m", "controller"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=180,
                          check=False)


def _config(where: Path) -> Path:
    """A config whose runtime dir has no control socket (the CLI exports by itself)."""
    path = where / "config.toml"
    path.write_text(f'[device]\nruntime_dir = "{where / "run"}"\n')
    return path


def _lose_one_file(store: Store) -> tuple[int, str]:
    """Delete the first stored medium's file behind the database's back."""
    conn = sqlite3.connect(store.data_dir / "records.db")
    try:
        seq, sha = conn.execute("SELECT seq, sha256 FROM media WHERE state = 'stored' "
                                "ORDER BY seq LIMIT 1").fetchone()
    finally:
        conn.close()
    StoreLayout(store.data_dir).media_file(sha).unlink()
    return int(seq), str(sha)


def _export_cli(store: Store, out_dir: Path, name: str) -> subprocess.CompletedProcess[str]:
    return _run("export", "--data-dir", str(store.data_dir), "--out", str(out_dir),
                "--name", name, "--config", str(_config(out_dir.parent)))


def test_a_missing_file_is_declared_warned_and_fails_verify_bundle(store: Store,
                                                                   out_dir: Path) -> None:
    seq, sha = _lose_one_file(store)
    device = verify_store(store.data_dir, store.seed, store.identity)
    assert f"media {sha[:16]}.. (record {seq}): file missing" in device.problems

    done = _export_cli(store, out_dir, "b")
    assert done.returncode == 0, done.stdout + done.stderr
    warnings = [x for x in done.stderr.splitlines() if x.startswith("warning:")]
    assert len(warnings) == 1, done.stderr
    assert f"record {seq}" in warnings[0] and sha in warnings[0]
    assert "apart from 1 media missing at export" in done.stdout
    bundle = out_dir / "b"
    stated = json.loads((bundle / "data/contents.json").read_bytes())
    assert stated["missing_media"] == [{"seq": seq, "sha256": sha}]
    doc = json.loads((bundle / "data/bundle.json").read_bytes())
    entries = [e for e in doc["media"] if e["sha256"] == sha]
    assert entries and all(e["state"] == "absent" and e["device_state"] == "stored"
                           for e in entries)
    included = sum(1 for e in doc["media"] if e["state"] == "included")
    assert included == 23  # every other medium of the store is in the bundle
    with HistoryReader(store.data_dir, store.identity) as reader:
        audit = [r for r in reader.records(kinds=["audit"]) if r.source == "export"][-1]
    assert audit.body["outcome"] == "ok"
    assert audit.body["missing_media"] == [{"seq": seq, "sha256": sha}]

    checked = _run("verify-bundle", str(bundle), "--identity", str(store.identity_file),
                   "--verification-key", store.verification_key)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    problems = [x for x in checked.stdout.splitlines() if x.startswith("PROBLEM:")]
    assert problems == [f"PROBLEM: record {seq}: media {sha} missing at export: the device "
                        "marked it stored but its file was not there, and no tombstone "
                        "explains it"], checked.stdout
    # everything else was still checked: every record's tag, every medium present
    assert "120 AEAD tags checked, 23 media decrypted" in checked.stdout, checked.stdout
    assert "bundle NOT OK: 1 problem(s)" in checked.stdout


def test_other_problems_are_still_found_beside_the_disclosed_absence(
        store: Store, out_dir: Path) -> None:
    seq, sha = _lose_one_file(store)
    bundle = export_bundle(store.data_dir, out_dir, Selection(), now=T0, name="b").path
    dropped: list[int] = []

    def drop_a_record(data: Path, doc: Doc, lines: Lines) -> None:
        line = next(x for x in lines if x["selected"] and x["kind"] == "reading")
        line["selected"], line["ct"] = False, None
        dropped.append(int(line["seq"]))
        doc["segment"]["selected"] -= 1

    tamper(bundle, store, drop_a_record)
    report = verify_bundle(bundle)
    assert (seq, sha) in report.missing_media
    others = report.problems_besides_missing()
    assert any(f"records {dropped[0]}:" in p for p in others), report.problems


def test_stripping_the_declaration_does_not_hide_the_absence(store: Store,
                                                             out_dir: Path) -> None:
    seq, sha = _lose_one_file(store)
    bundle = export_bundle(store.data_dir, out_dir, Selection(), now=T0, name="b").path

    def keep(data: Path, doc: Doc, lines: Lines) -> None:
        return None

    def undeclare(stated: Doc) -> None:
        stated["missing_media"] = []

    tamper(bundle, store, keep, contents=undeclare)
    report = verify_bundle(bundle)
    assert not report.ok and not report.missing_media
    assert f"media {sha[:16]}.. (record {seq}): marked 'stored', but no tombstone explains " \
           "its removal" in report.problems


def test_a_declared_absence_the_manifest_does_not_show_fails(store: Store,
                                                             out_dir: Path) -> None:
    bundle = export_bundle(store.data_dir, out_dir, Selection(), now=T0, name="b").path
    doc = json.loads((bundle / "data/bundle.json").read_bytes())
    entry = next(e for e in doc["media"] if e["state"] == "included")

    def keep(data: Path, doc: Doc, lines: Lines) -> None:
        return None

    def declare(stated: Doc) -> None:
        stated["missing_media"] = [{"seq": entry["seq"], "sha256": entry["sha256"]}]

    tamper(bundle, store, keep, contents=declare)
    report = verify_bundle(bundle)
    assert not report.ok and not report.missing_media
    assert f"media {entry['sha256'][:16]}.. (record {entry['seq']}): declared missing at " \
           "export in the signed contents, but the manifest does not list it as absent" \
           in report.problems


def test_any_other_problem_still_refuses_the_export(store: Store, out_dir: Path) -> None:
    _lose_one_file(store)
    conn = sqlite3.connect(store.data_dir / "records.db")
    try:  # a body gone with no tombstone: tampering, not a lost file
        (victim,) = conn.execute("SELECT MAX(seq) FROM bodies").fetchone()
        with conn:
            conn.execute("DELETE FROM bodies WHERE seq = ?", (victim,))
    finally:
        conn.close()
    done = _export_cli(store, out_dir, "b")
    assert done.returncode != 0
    assert f"record {victim}" in done.stderr and "did not verify after writing" in done.stderr
    assert not (out_dir / "b").exists() and not list(out_dir.glob(".*partial"))
