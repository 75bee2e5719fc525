"""Checkpoints that leave the device, attacked as a burglar with the card would.

Each test drives the real `edgewarden verify` in a subprocess on a real store.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.config import StoreConfig
from controller.store import RecordWriter
from controller.store.checkpoint import CheckpointError, parse, sign
from controller.store.checkpoint_file import checkpoint_path
from controller.store.layout import StoreLayout, read_manifest

from .conftest import Store, fill


def verify(store: Store, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller", "verify", "--data-dir", str(store.data_dir),
         "--verification-key", store.verification_key, *extra],
        capture_output=True, text=True, timeout=120, check=False,
    )


def keep_checkpoint(store: Store, to: Path) -> Path:
    shutil.copyfile(checkpoint_path(StoreLayout(store.data_dir)), to)
    return to


@pytest.fixture
def two_copies(store: Store, cfg: StoreConfig, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A store with an older copy of its whole data directory and checkpoints of both."""
    fill(store, cfg, epochs=2, per_epoch=40)
    earlier = keep_checkpoint(store, tmp_path / "earlier.txt")
    older = tmp_path / "older-copy"
    shutil.copytree(store.data_dir, older, symlinks=True)
    fill(store, cfg, epochs=2, per_epoch=40)
    later = keep_checkpoint(store, tmp_path / "later.txt")
    return older, earlier, later


def test_every_seal_leaves_a_signed_checkpoint_that_verify_prints(
        store: Store, cfg: StoreConfig) -> None:
    fill(store, cfg, epochs=1, per_epoch=30)
    text = checkpoint_path(StoreLayout(store.data_dir)).read_text()
    manifest = read_manifest(StoreLayout(store.data_dir))
    cp = parse(text, manifest["signing_public_key"])
    assert cp.store_id == manifest["store_id"] and cp.seq == 30
    result = verify(store)
    assert result.returncode == 0, result.stdout + result.stderr
    assert text.rstrip("\n") in result.stdout


def test_store_containing_the_checkpoints_verifies(store: Store,
                                                   two_copies: tuple[Path, Path, Path]) -> None:
    _, earlier, later = two_copies
    result = verify(store, "--checkpoint", str(earlier), "--checkpoint", str(later))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"checkpoint {later}: contained in the store" in result.stdout


def test_rolled_back_data_directory_fails_naming_the_later_checkpoint(
        store: Store, two_copies: tuple[Path, Path, Path]) -> None:
    older, earlier, later = two_copies
    assert verify(store).returncode == 0
    shutil.rmtree(store.data_dir)
    shutil.copytree(older, store.data_dir, symlinks=True)
    assert verify(store).returncode == 0  # without a kept checkpoint, nothing can tell
    result = verify(store, "--checkpoint", str(earlier), "--checkpoint", str(later))
    assert result.returncode != 0
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1 and str(later) in fails[0] and "older" in fails[0], result.stdout


def test_rolled_back_and_rewritten_store_is_reported_forked(
        store: Store, cfg: StoreConfig, two_copies: tuple[Path, Path, Path]) -> None:
    older, _, later = two_copies
    shutil.rmtree(store.data_dir)
    shutil.copytree(older, store.data_dir, symlinks=True)
    fill(store, cfg, epochs=3, per_epoch=40)  # enough new seals to pass the checkpoint's
    result = verify(store, "--checkpoint", str(later))
    assert result.returncode != 0
    assert "forked" in result.stdout and str(later) in result.stdout, result.stdout


def test_cut_tail_with_its_seals_fails_against_a_kept_checkpoint(
        store: Store, cfg: StoreConfig, tmp_path: Path) -> None:
    import sqlite3

    fill(store, cfg, epochs=2, per_epoch=40)
    kept = keep_checkpoint(store, tmp_path / "kept.txt")
    with sqlite3.connect(store.data_dir / "records.db") as c:
        c.execute("DELETE FROM seals WHERE seal_no = (SELECT MAX(seal_no) FROM seals)")
    result = verify(store, "--checkpoint", str(kept))
    assert result.returncode != 0 and str(kept) in result.stdout, result.stdout


def test_edited_or_foreign_checkpoint_is_refused(store: Store, cfg: StoreConfig,
                                                 tmp_path: Path) -> None:
    fill(store, cfg, epochs=1, per_epoch=10)
    text = checkpoint_path(StoreLayout(store.data_dir)).read_text()
    edited = tmp_path / "edited.txt"
    lines = text.split("\n")
    lines[1] = "5"
    edited.write_text("\n".join(lines))
    result = verify(store, "--checkpoint", str(edited))
    assert result.returncode != 0
    assert f"checkpoint {edited}: signature does not verify" in result.stdout, result.stdout
    manifest = read_manifest(StoreLayout(store.data_dir))
    cp = parse(text, manifest["signing_public_key"])
    with pytest.raises(CheckpointError):
        parse(sign(cp, Ed25519PrivateKey.generate()), manifest["signing_public_key"])
    missing = verify(store, "--checkpoint", str(tmp_path / "nope.txt"))
    assert missing.returncode != 0 and "no such checkpoint file" in missing.stdout


def test_checkpoint_is_rewritten_at_start_from_the_last_seal(store: Store,
                                                              cfg: StoreConfig) -> None:
    fill(store, cfg, epochs=1, per_epoch=10)
    path = checkpoint_path(StoreLayout(store.data_dir))
    path.unlink()
    with RecordWriter.open(store.data_dir, cfg):
        assert path.exists()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
