"""Export and verify-bundle end to end, through the API, the CLI and standard tools."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from controller.cli import main
from controller.errors import EdgewardenError, UsageError
from controller.evidence import Selection, export_bundle, parse_time, verify_bundle
from controller.store import verify_store
from controller.store.keyschedule import encode_verification_key
from tests.evidence.conftest import T0, Store


def tree_digest(root: Path) -> dict[str, str]:
    """Every file's hash; SQLite's reader housekeeping (-shm, an empty -wal) aside."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.endswith("-shm")
            and not (p.name.endswith("-wal") and p.stat().st_size == 0)}


def test_full_export_verifies_with_and_without_keys(store: Store, out_dir: Path) -> None:
    audits: list[dict[str, object]] = []
    stages: set[str] = set()
    result = export_bundle(store.data_dir, out_dir, Selection(), now=T0 + 1e5,
                           on_audit=audits.append,
                           progress=lambda stage, done, total: stages.add(stage))
    assert result.path.parent == out_dir and result.path.is_dir()
    assert result.selected == result.records == 120
    assert result.media_files == 24
    assert not list(out_dir.glob(".*partial"))
    assert audits and audits[-1]["outcome"] == "ok" and audits[-1]["action"] == "export"
    assert {"records", "media", "checking bag"} <= stages
    bare = verify_bundle(result.path)
    assert bare.ok, bare.problems
    assert bare.aead_checked == 0
    full = verify_bundle(result.path, identity=store.identity, seed=store.seed)
    assert full.ok, full.problems
    assert full.aead_checked == 120 and full.media_decrypted == 24
    assert full.seals_authenticated == full.seals > 0


def test_export_leaves_the_device_unchanged(store: Store, out_dir: Path) -> None:
    before = tree_digest(store.data_dir)
    export_bundle(store.data_dir, out_dir, Selection(), now=T0)
    assert tree_digest(store.data_dir) == before
    assert verify_store(store.data_dir, store.seed, store.identity).ok


def test_filtered_export_keeps_the_chain_checkable(store: Store, out_dir: Path) -> None:
    sel = Selection(since=T0 + 60 * 45, until=T0 + 60 * 70, kinds=("event",))
    result = export_bundle(store.data_dir, out_dir, sel, now=T0)
    report = verify_bundle(result.path, identity=store.identity, seed=store.seed)
    assert report.ok, report.problems
    lines = [json.loads(x) for x in (result.path / "data/records.jsonl").read_text().splitlines()]
    chosen = [x for x in lines if x["selected"]]
    assert [x["kind"] for x in chosen] == ["event"] * 3  # records 46, 56 and 66
    assert all(T0 + 60 * 45 <= x["t_wall"] <= T0 + 60 * 70 for x in chosen)
    assert all(x["ct"] is None for x in lines if not x["selected"])
    assert len(lines) > len(chosen)  # the unselected neighbours carry the chain
    assert lines[0]["seq"] > 1  # starts at the anchor seal, not at the store's start


def test_filter_by_source_and_nothing_matching(store: Store, out_dir: Path) -> None:
    result = export_bundle(store.data_dir, out_dir, Selection(sources=("node1/temp",)), now=T0)
    assert verify_bundle(result.path).ok
    with pytest.raises(EdgewardenError, match="no records match"):
        export_bundle(store.data_dir, out_dir, Selection(kinds=("health",)), now=T0, name="x")
    assert not (out_dir / "x").exists() and not (out_dir / ".x.partial").exists()


def test_parse_time_forms() -> None:
    assert parse_time("1700000000") == 1_700_000_000.0
    assert parse_time("2023-11-14T22:13:20Z") == 1_700_000_000.0
    assert parse_time("2023-11-14T22:13:20") == 1_700_000_000.0
    with pytest.raises(ValueError, match="neither"):
        parse_time("yesterday")


def test_refuses_existing_bundle_and_full_disk(store: Store, out_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    export_bundle(store.data_dir, out_dir, Selection(), now=T0, name="b1")
    with pytest.raises(EdgewardenError, match="already exists"):
        export_bundle(store.data_dir, out_dir, Selection(), now=T0, name="b1")
    real = shutil.disk_usage

    def tiny(path: object) -> object:
        u = real(path)  # type: ignore[arg-type]
        return type(u)(u.total, u.total - 1000, 1000)

    monkeypatch.setattr(shutil, "disk_usage", tiny)
    with pytest.raises(EdgewardenError, match="not enough free space"):
        export_bundle(store.data_dir, out_dir, Selection(), now=T0, name="b2")
    assert not (out_dir / ".b2.partial").exists()


def test_redact_needs_identity(store: Store, out_dir: Path) -> None:
    with pytest.raises(UsageError, match="identity"):
        export_bundle(store.data_dir, out_dir, Selection(), now=T0, redact=True)


def test_bagit_tool_agrees(store: Store, out_dir: Path) -> None:
    result = export_bundle(store.data_dir, out_dir, Selection(), now=T0)
    tool = Path(sys.executable).parent / "bagit.py"
    ok = subprocess.run([sys.executable, str(tool), "--validate", str(result.path)],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    victim = next((result.path / "data/media").iterdir())
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 1
    victim.write_bytes(bytes(data))
    bad = subprocess.run([sys.executable, str(tool), "--validate", str(result.path)],
                         capture_output=True, text=True, check=False)
    assert bad.returncode != 0


@pytest.mark.skipif(shutil.which("age") is None, reason="the `age` tool is not installed")
def test_age_tool_decrypts_a_media_file(store: Store, out_dir: Path) -> None:
    result = export_bundle(store.data_dir, out_dir, Selection(kinds=("event",)), now=T0)
    media = sorted((result.path / "data/media").iterdir())
    out = subprocess.run(["age", "-d", "-i", str(store.identity_file), str(media[0])],
                         capture_output=True, check=False)
    assert out.returncode == 0
    assert out.stdout[:8] == b"\x89PNG\r\n\x1a\n" or out.stdout[4:8] == b"ftyp"


def test_cli_export_and_verify(store: Store, out_dir: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export", "--data-dir", str(store.data_dir), "--out", str(out_dir),
                 "--name", "cli", "--kind", "event", "--from", str(T0),
                 "--config", str(_config(out_dir.parent))])
    assert code == 0
    bundle = out_dir / "cli"
    assert "verified" in capsys.readouterr().out
    key = encode_verification_key(store.seed)
    code = main(["verify-bundle", str(bundle), "--identity", str(store.identity_file),
                 "--verification-key", key])
    assert code == 0
    assert "bundle OK" in capsys.readouterr().out
    (bundle / "data/seals.jsonl").write_text("")
    assert main(["verify-bundle", str(bundle)]) == 1
    assert "PROBLEM" in capsys.readouterr().out
    assert main(["export", "--data-dir", str(store.data_dir), "--out", str(out_dir),
                 "--redact"]) == 2
    assert "--redact needs --identity" in capsys.readouterr().err


def _config(where: Path) -> Path:
    """A config whose runtime dir has no control socket (so the CLI stores the audit)."""
    path = where / "config.toml"
    path.write_text(f'[device]\nruntime_dir = "{where / "run"}"\n')
    return path


def test_cli_export_appends_audit_record(store: Store, out_dir: Path) -> None:
    from controller.store import HistoryReader

    assert main(["export", "--data-dir", str(store.data_dir), "--out", str(out_dir),
                 "--config", str(_config(out_dir.parent))]) == 0
    with HistoryReader(store.data_dir, store.identity) as reader:
        audits = [r for r in reader.records(kinds=["audit"]) if r.source == "export"]
    assert audits and audits[-1].body["outcome"] == "ok"


def test_export_after_retention_shredded_old_epochs(store: Store, out_dir: Path) -> None:
    """Expired bodies and shredded epochs inside the store still export a checkable chain."""
    from controller.config import StoreConfig
    from controller.store import RecordWriter

    cfg = StoreConfig(commit_interval_ms=5, reserved_space_mb=1, shed_margin_mb=1,
                      retention_days={"reading": 1.0, "event": 1.0, "alarm": 1.0,
                                      "health": 1.0, "audit": 1.0})
    with RecordWriter.open(store.data_dir, cfg) as w:
        w.enforce_retention(now=T0 + 60 * 120 + 86400 * 1.5)
    result = export_bundle(store.data_dir, out_dir, Selection(), now=T0)
    report = verify_bundle(result.path, identity=store.identity, seed=store.seed)
    assert report.ok, report.problems
    first = json.loads((result.path / "data/records.jsonl").read_text().splitlines()[0])
    assert first["seq"] > 1  # starts after the shredded epochs, anchored on their last seal
