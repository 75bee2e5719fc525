"""A bundle's signed contents statement: nothing can be dropped, unselected or withheld.

Each attack re-signs bundle.json (and re-bags) with the card's keys/signing.key, as a thief
of the SD card can; some go further and re-sign contents.json too. The checks run through
the real `edgewarden verify-bundle` in a subprocess.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bagit
import pytest

from controller.config import StoreConfig
from controller.evidence import Selection, export_bundle
from controller.evidence import manifest as mf
from controller.store import RecordWriter
from tests.evidence.conftest import T0, Store, build_store

Doc = dict[str, Any]
Lines = list[dict[str, Any]]


def verify_cli(bundle: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controller", "verify-bundle", str(bundle),
                           *extra], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def alarmed(tmp_path: Path) -> Store:
    """The test store with three door alarms among its records."""
    store = build_store(tmp_path)
    with RecordWriter.open(store.data_dir, StoreConfig(commit_interval_ms=5,
                                                       seal_every_records=16)) as w:
        for i in range(3):
            w.append("alarm", "node0/door", "critical", {"door": 1}, t_wall=T0 + 9000 + i)
            for j in range(5):
                w.append("reading", "node0/temp", "info", {"value": j},
                         t_wall=T0 + 9001 + i * 10 + j)
        assert w.append("reading", "node0/temp", "info", {"value": 0},
                        t_wall=T0 + 9100).wait_durable(10)
    return store


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tamper(bundle: Path, store: Store, edit: Callable[[Path, Doc, Lines], None], *,
           contents: Callable[[Doc], None] | None = None) -> None:
    """Apply `edit` to the payload, then re-make the manifest's hashes and signature with
    the card's key (and, with `contents`, edit and re-sign contents.json too), re-bag."""
    data = bundle / "data"
    key = mf.load_signing_key((store.data_dir / "keys/signing.key").read_bytes())
    lines = [json.loads(x) for x in (data / "records.jsonl").read_text().splitlines()]
    doc = json.loads((data / mf.MANIFEST_NAME).read_bytes())
    edit(data, doc, lines)
    (data / "records.jsonl").write_text("".join(
        json.dumps(x, sort_keys=True, separators=(",", ":")) + "\n" for x in lines))
    statement = data / "contents.json"
    if contents is not None and statement.exists():
        stated = json.loads(statement.read_bytes())
        contents(stated)
        raw_statement = json.dumps(stated, indent=1, sort_keys=True).encode() + b"\n"
        statement.write_bytes(raw_statement)
        (data / "contents.json.sig").write_bytes(mf.sign(key, raw_statement))
    doc["files"] = {rel: _sha(data / rel) for rel in doc["files"] if (data / rel).exists()}
    raw = mf.encode_manifest(doc)
    (data / mf.MANIFEST_NAME).write_bytes(raw)
    (data / mf.SIGNATURE_NAME).write_bytes(mf.sign(key, raw))
    bagit.Bag(str(bundle)).save(manifests=True)


def _unselect(lines: Lines, kind: str) -> list[int]:
    gone = []
    for line in lines:
        if line["kind"] == kind and line["selected"]:
            line["selected"], line["ct"] = False, None
            gone.append(int(line["seq"]))
    return gone


def _drop_seqs(stated: Doc, seqs: list[int]) -> None:
    present = {s for a, b in stated["records"] for s in range(a, b + 1)} - set(seqs)
    out: list[list[int]] = []
    for s in sorted(present):
        if out and out[-1][1] == s - 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    stated["records"] = out


def _drop_proofs(data: Path, doc: Doc, lines: Lines) -> None:
    """Strip the carried tombstones (their proofs) from a bundle."""
    (data / "tombstones.jsonl").unlink()


def _no_tombstones(stated: Doc) -> None:
    """...and from its contents statement, as whoever re-signs it would."""
    stated["tombstones"] = []
    stated["files"].pop("tombstones.jsonl", None)


def _export(store: Store, out: Path, name: str, selection: Selection | None = None) -> Path:
    return export_bundle(store.data_dir, out, selection or Selection(), now=T0,
                         name=name).path


def test_an_untouched_bundle_verifies_and_carries_its_statement(alarmed: Store,
                                                                out_dir: Path) -> None:
    bundle = _export(alarmed, out_dir, "b")
    stated = json.loads((bundle / "data/contents.json").read_bytes())
    assert stated["selection"]["redact"] is False and stated["files"]
    result = verify_cli(bundle)
    assert result.returncode == 0, result.stdout + result.stderr


def test_removing_an_alarm_and_re_signing_fails(alarmed: Store, out_dir: Path,
                                                tmp_path: Path) -> None:
    bundle = _export(alarmed, out_dir, "b")
    removed: list[int] = []

    def drop_first_alarm(data: Path, doc: Doc, lines: Lines) -> None:
        alarm = next(x for x in lines if x["kind"] == "alarm")
        alarm["selected"], alarm["ct"] = False, None
        removed.append(int(alarm["seq"]))
        doc["segment"]["selected"] -= 1

    manifest_only = tmp_path / "manifest-only"
    shutil.copytree(bundle, manifest_only)
    tamper(manifest_only, alarmed, drop_first_alarm)
    result = verify_cli(manifest_only)
    assert result.returncode != 0
    assert f"records {removed[0]}:" in result.stdout, result.stdout

    both = tmp_path / "both-signed"
    shutil.copytree(bundle, both)
    removed.clear()
    tamper(both, alarmed, drop_first_alarm, contents=lambda s: _drop_seqs(s, removed))
    result = verify_cli(both)
    assert result.returncode != 0
    assert f"records {removed[0]} match the selection but are not in the bundle" \
        in result.stdout, result.stdout


def test_unselecting_alarms_in_the_selection_and_re_signing_fails(
        alarmed: Store, out_dir: Path) -> None:
    bundle = _export(alarmed, out_dir, "b")

    def no_alarms(data: Path, doc: Doc, lines: Lines) -> None:
        doc["selection"]["kinds"] = sorted({x["kind"] for x in lines} - {"alarm"})
        doc["segment"]["selected"] -= len(_unselect(lines, "alarm"))

    tamper(bundle, alarmed, no_alarms)
    result = verify_cli(bundle)
    assert result.returncode != 0
    assert "selection differs from the manifest" in result.stdout, result.stdout


def _withhold_one(data: Path, doc: Doc, lines: Lines) -> None:
    entry = next(e for e in doc["media"] if e["state"] == "included")
    sha = entry["sha256"]
    (data / f"media/{sha}.age").unlink()
    for e in doc["media"]:
        if e["sha256"] == sha:
            e["state"], e["device_state"] = "absent", "shed"


def test_withholding_a_media_file_fails(alarmed: Store, out_dir: Path,
                                        tmp_path: Path) -> None:
    bundle = _export(alarmed, out_dir, "b")
    manifest_only = tmp_path / "manifest-only"
    shutil.copytree(bundle, manifest_only)
    tamper(manifest_only, alarmed, _withhold_one)
    result = verify_cli(manifest_only)
    assert result.returncode != 0
    assert "listed in the signed contents but not in the bundle (withheld)" in result.stdout

    def unlist(stated: Doc) -> None:
        stated["files"] = {rel: sha for rel, sha in stated["files"].items()
                           if (tmp_path / "both-signed/data" / rel).exists()}

    both = tmp_path / "both-signed"
    shutil.copytree(bundle, both)
    tamper(both, alarmed, _withhold_one, contents=unlist)
    result = verify_cli(both)
    assert result.returncode != 0
    assert "marked 'shed', but no tombstone explains its removal" in result.stdout, \
        result.stdout


def test_media_really_shed_verify_through_the_carried_tombstone(
        store: Store, out_dir: Path, tmp_path: Path) -> None:
    free = [10**12]
    cfg = StoreConfig(commit_interval_ms=5, seal_every_records=16, reserved_space_mb=1,
                      shed_margin_mb=1)
    with RecordWriter.open(store.data_dir, cfg, free_space=lambda: free[0]) as w:
        w.flush(10)
        free[0] = 0  # the disk fills: the oldest media are shed, with tombstones
        assert w.append("alarm", "node0/door", "critical", {"door": 1}).wait_durable(10)
        w.flush(10)
        free[0] = 10**12
        for i in range(20):  # later records, so a seal covers the tombstones
            w.append("reading", "node0/temp", "info", {"value": i})
        w.flush(10)
    # only the first epoch: the tombstones lie after the segment and travel with their proof
    bundle = _export(store, out_dir, "b", Selection(until=T0 + 40 * 60))
    doc = json.loads((bundle / "data/bundle.json").read_bytes())
    assert any(e["state"] == "absent" and e["device_state"] == "shed" for e in doc["media"])
    assert (bundle / "data/tombstones.jsonl").exists()
    result = verify_cli(bundle, "--verification-key", store.verification_key)
    assert result.returncode == 0, result.stdout + result.stderr

    stripped = tmp_path / "stripped"
    shutil.copytree(bundle, stripped)
    tamper(stripped, store, _drop_proofs, contents=_no_tombstones)
    result = verify_cli(stripped)
    assert result.returncode != 0
    assert "no tombstone explains its removal" in result.stdout, result.stdout


def test_expired_bodies_verify_through_the_carried_retention_tombstone(
        store: Store, out_dir: Path, tmp_path: Path) -> None:
    later = T0 + 40 * 86_400.0  # readings are kept 30 days, events 90
    with RecordWriter.open(store.data_dir, StoreConfig(commit_interval_ms=5),
                           wall=lambda: later) as w:
        report = w.enforce_retention()
    assert report.expired.get("reading", 0) > 0 and not report.shredded_epochs
    bundle = _export(store, out_dir, "b", Selection(until=T0 + 40 * 60))
    lines = [json.loads(x) for x in (bundle / "data/records.jsonl").read_text().splitlines()]
    assert any(x["selected"] and x["kind"] == "reading" and x["ct"] is None for x in lines)
    result = verify_cli(bundle, "--verification-key", store.verification_key)
    assert result.returncode == 0, result.stdout + result.stderr

    tamper(bundle, store, _drop_proofs, contents=_no_tombstones)
    result = verify_cli(bundle)
    assert result.returncode != 0
    assert "body missing, but no tombstone explains it" in result.stdout, result.stdout


def test_relabelling_a_bundle_as_the_old_format_to_skip_the_checks_fails(
        alarmed: Store, out_dir: Path) -> None:
    # a downgrade: format 1 had no contents statement, so the card's key could drop one
    bundle = _export(alarmed, out_dir, "b")

    def as_format_1(data: Path, doc: Doc, lines: Lines) -> None:
        alarm = next(x for x in lines if x["kind"] == "alarm")
        alarm["selected"], alarm["ct"] = False, None
        doc["segment"]["selected"] -= 1
        doc["format"] = "edgewarden-bundle/1"
        for name in ("contents.json", "contents.json.sig"):
            (data / name).unlink()

    tamper(bundle, alarmed, as_format_1)
    result = verify_cli(bundle)
    assert result.returncode != 0
    assert "predates signed contents and tombstones" in result.stdout, result.stdout
