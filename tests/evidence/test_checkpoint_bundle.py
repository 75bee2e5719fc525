"""Bundles carry the store's signed head; kept checkpoints expose bundles of rolled-back stores.

The attacks drive the real `edgewarden verify-bundle` in a subprocess.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from controller.config import StoreConfig
from controller.evidence import Selection, export_bundle
from controller.store import RecordWriter
from controller.store.checkpoint_file import checkpoint_path
from controller.store.layout import StoreLayout, read_manifest
from tests.evidence.conftest import T0, Store


def verify_bundle(bundle: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controller", "verify-bundle", str(bundle),
                           *extra], capture_output=True, text=True, timeout=120, check=False)


def more_records(store: Store) -> None:
    with RecordWriter.open(store.data_dir, StoreConfig(commit_interval_ms=5)) as w:
        assert w.append("alarm", "node0/door", "critical", {"door": 1}).wait_durable(10)


def test_bundle_carries_the_head_and_says_when_the_signer_is_not_pinned(
        store: Store, out_dir: Path) -> None:
    kept = checkpoint_path(StoreLayout(store.data_dir)).read_text()
    bundle = export_bundle(store.data_dir, out_dir, Selection(), now=T0, name="b").path
    result = verify_bundle(bundle)
    assert result.returncode == 0, result.stdout + result.stderr
    assert kept.rstrip("\n") in result.stdout
    assert "signer NOT pinned" in result.stdout and "--signing-key" in result.stdout
    public = read_manifest(StoreLayout(store.data_dir))["signing_public_key"]
    pinned = verify_bundle(bundle, "--signing-key", public)
    assert pinned.returncode == 0 and "signer NOT pinned" not in pinned.stdout


def test_bundle_from_a_rolled_back_store_fails_against_a_later_checkpoint(
        store: Store, out_dir: Path, tmp_path: Path) -> None:
    older = tmp_path / "older-copy"
    shutil.copytree(store.data_dir, older)
    more_records(store)  # the alarm the burglar wants gone
    later = tmp_path / "later.txt"
    shutil.copyfile(checkpoint_path(StoreLayout(store.data_dir)), later)
    fresh = export_bundle(store.data_dir, out_dir, Selection(), now=T0, name="fresh").path
    assert verify_bundle(fresh, "--checkpoint", str(later)).returncode == 0
    shutil.rmtree(store.data_dir)
    shutil.copytree(older, store.data_dir)
    bundle = export_bundle(store.data_dir, out_dir, Selection(), now=T0, name="old").path
    assert verify_bundle(bundle).returncode == 0  # nothing kept, nothing can tell
    result = verify_bundle(bundle, "--checkpoint", str(later))
    assert result.returncode != 0
    assert str(later) in result.stdout and "older" in result.stdout, result.stdout


def test_bundle_whose_carried_checkpoint_is_removed_or_edited_fails(
        store: Store, out_dir: Path, tmp_path: Path) -> None:
    bundle = export_bundle(store.data_dir, out_dir, Selection(), now=T0, name="b").path
    carried = bundle / "data" / "checkpoint.txt"
    text = carried.read_text().split("\n")
    text[1] = "1"
    carried.write_text("\n".join(text))
    result = verify_bundle(bundle)
    assert result.returncode != 0, result.stdout


def test_records_cut_between_two_seals_and_resigned_fail(store: Store, out_dir: Path,
                                                         tmp_path: Path) -> None:
    """The issue's attack: drop a sealed run of records (an alarm among them), re-sign
    with the card's signing.key; the gap used to pass as a "shredded epoch"."""
    import itertools
    import json

    from tests.evidence.test_tamper import _resign

    bundle = export_bundle(store.data_dir, out_dir, Selection(), now=T0, name="b").path
    seals = [json.loads(x) for x in (bundle / "data" / "seals.jsonl").read_text().splitlines()]
    a, b = next((x, y) for x, y in itertools.pairwise(seals)
                if x["epoch"] == y["epoch"] == 1 and y["last_seq"] > x["last_seq"])
    cut = range(a["last_seq"] + 1, b["last_seq"] + 1)

    def drop(lines: list[dict[str, object]]) -> None:
        lines[:] = [x for x in lines if x["seq"] not in cut]

    _resign(bundle, store, drop)
    public = read_manifest(StoreLayout(store.data_dir))["signing_public_key"]
    result = verify_bundle(bundle, "--signing-key", public)
    assert result.returncode != 0
    assert f"records {cut[0]}..{cut[-1]} absent, but they are not whole epochs" in \
        result.stdout, result.stdout
