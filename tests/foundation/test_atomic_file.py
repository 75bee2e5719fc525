"""The one durable-write helper: modes, ordering of fsync and rename, and crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from controller import atomic_file
from controller.atomic_file import creating, replacing, write_atomic, write_new
from controller.sensors.keystore import KeyStore
from controller.store.layout import replace_secret
from firmware_bridge.signing import SecretKey
from tests.conftest import REPO_ROOT


def mode_of(path: Path) -> int:
    return path.stat().st_mode & 0o777


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644])
def test_the_mode_is_the_one_asked_for_whatever_the_umask(tmp_path: Path, mode: int) -> None:
    target = tmp_path / "f.toml"
    target.write_bytes(b"old")
    target.chmod(0o666)
    old_umask = os.umask(0o077)
    try:
        write_atomic(target, b"new", mode)
        write_new(tmp_path / "n.key", b"k", mode)
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b"new"
    assert mode_of(target) == mode  # replaced, so the old 0666 is gone too
    assert mode_of(tmp_path / "n.key") == mode
    assert names(tmp_path) == ["f.toml", "n.key"]  # no temp file left behind


def test_fsync_of_the_file_comes_before_the_rename_and_the_directory_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        is_dir = os.path.isdir(f"/proc/self/fd/{fd}")
        events.append("fsync dir" if is_dir else f"fsync file {os.fstat(fd).st_size}")
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        events.append(f"rename {Path(src).name} -> {Path(dst).name}")
        real_replace(src, dst)

    monkeypatch.setattr(atomic_file.os, "fsync", fsync)
    monkeypatch.setattr(atomic_file.os, "replace", replace)
    write_atomic(target, b"new content", 0o600)
    tmp_name = f".state.json.{os.getpid()}.tmp"
    assert events == ["fsync file 11", f"rename {tmp_name} -> state.json", "fsync dir"]


def test_a_failure_while_writing_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), replacing(target, 0o644, encoding="utf-8") as f:
        f.write("half of the new")
        raise RuntimeError("disk fell off")
    assert target.read_text() == "old\n"
    assert names(tmp_path) == ["out.csv"]


def test_text_mode_keeps_newlines_as_written(tmp_path: Path) -> None:
    target = tmp_path / "rows.csv"
    with replacing(target, 0o644, encoding="utf-8") as f:
        f.write("a,b\r\nc,d\n")
    assert target.read_bytes() == b"a,b\r\nc,d\n"


def test_creating_never_overwrites_and_a_failure_removes_the_new_file(tmp_path: Path) -> None:
    existing = tmp_path / "identity.age"
    existing.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        write_new(existing, b"other")
    assert existing.read_bytes() == b"precious"
    with pytest.raises(RuntimeError), creating(tmp_path / "media.age") as f:
        f.write(b"partial")
        raise RuntimeError("cut short")
    assert names(tmp_path) == ["identity.age"]


def test_a_symlink_at_the_temp_name_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    target = tmp_path / "seal.key"
    (tmp_path / "seal.key.new").symlink_to(victim)
    with pytest.raises(OSError):
        write_atomic(target, b"k", 0o600, temp=tmp_path / "seal.key.new")
    assert victim.read_bytes() == b"untouched"


def test_scrub_old_zeroes_the_old_contents_on_the_medium(tmp_path: Path) -> None:
    secret = tmp_path / "seal.key"
    secret.write_bytes(b"K0-secret-bytes")
    os.link(secret, tmp_path / "old-inode")  # a second name for the old file's blocks
    replace_secret(secret, b"K1")
    assert secret.read_bytes() == b"K1" and mode_of(secret) == 0o600
    assert (tmp_path / "old-inode").read_bytes() == bytes(len(b"K0-secret-bytes"))
    assert not (tmp_path / "seal.key.new").exists()


def test_the_node_keystore_writes_through_it(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    store.add("E661A4D4176B5E2F", "north", SecretKey(bytes(range(32))), "2026-01-01T00:00:00Z")
    assert mode_of(tmp_path / "keys" / "E661A4D4176B5E2F.key") == 0o600
    assert mode_of(store.registry_path) == 0o600
    assert names(tmp_path / "keys") == ["E661A4D4176B5E2F.key", "registry.json"]


CHILD = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from controller.atomic_file import replacing
    target = Path(sys.argv[1])
    with replacing(target, 0o600) as f:
        f.write(b"N" * (1 << 20))
        f.flush()
        os.write(1, b"half\\n")  # the parent kills us now, mid-replace
        sys.stdin.read()
""")


def test_a_process_killed_mid_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "registry.json"
    old = b'{"version": 1, "nodes": {}}\n'
    target.write_bytes(old)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(target)], cwd=REPO_ROOT,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == b"half\n"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert target.read_bytes() == old  # never a partial file under the real name
    leftovers = [n for n in names(tmp_path) if n != "registry.json"]
    assert all(n.startswith(".registry.json.") and n.endswith(".tmp") for n in leftovers)
    # the next write replaces it as usual
    write_atomic(target, b"{}\n", 0o600)
    assert target.read_bytes() == b"{}\n"
