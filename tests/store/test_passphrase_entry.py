"""Passphrase entry (issue 14): bytes within a stated limit, clear errors, and the right
passphrase never reported wrong (a partial read, or age's load-dependent work limit)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from controller.errors import EdgewardenError, UsageError
from controller.store import initialise
from controller.store.identity import WrongPassphrase, decrypt_identity
from controller.store.layout import StoreLayout
from controller.store.passphrase import MAX_BYTES, read_from_fd

GOOD = "correct horse 42 battery"


def _init_cli(tmp_path: Path, secret: bytes) -> subprocess.CompletedProcess[str]:
    r, w = os.pipe()
    os.write(w, secret)
    os.close(w)
    try:
        return subprocess.run(
            [sys.executable, "-m", "controller", "init", "--data-dir", str(tmp_path / "d"),
             "--passphrase-fd", str(r)],
            pass_fds=(r,), capture_output=True, text=True, timeout=120)
    finally:
        os.close(r)


def test_non_utf8_passphrase_is_a_one_line_error(tmp_path: Path) -> None:
    out = _init_cli(tmp_path, b"caf\xe9 passphrase 42\n")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert "not valid UTF-8" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "d" / "store.json").exists()


def test_overlong_passphrase_is_refused_not_cut(tmp_path: Path) -> None:
    out = _init_cli(tmp_path, b"Ab1" * 3334 + b"\n")  # 10,002 characters
    assert out.returncode != 0
    assert f"longer than {MAX_BYTES} bytes" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "d" / "store.json").exists()


def test_a_line_written_in_pieces_to_a_non_blocking_fd_is_read_whole() -> None:
    r, w = os.pipe()
    os.set_blocking(r, False)

    def slow_writer() -> None:
        os.write(w, GOOD[:7].encode())
        time.sleep(0.3)  # a loaded machine: the rest comes later
        os.write(w, GOOD[7:].encode() + b"\n")
        os.close(w)

    threading.Thread(target=slow_writer).start()
    try:
        assert read_from_fd(r) == GOOD
    finally:
        os.close(r)


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    root = tmp_path_factory.mktemp("ident")
    initialise(root / "d", passphrase=GOOD)
    return StoreLayout(root / "d").identity.read_bytes()


def test_the_right_passphrase_opens_and_a_wrong_one_is_wrong(identity: bytes,
                                                              tmp_path: Path) -> None:
    assert decrypt_identity(identity, GOOD, "identity") is not None
    assert decrypt_identity(identity, GOOD.encode(), "identity") is not None
    with pytest.raises(WrongPassphrase):
        decrypt_identity(identity, GOOD + "x", "identity")
    with pytest.raises(UsageError, match="longer than"):
        decrypt_identity(identity, "x" * (MAX_BYTES + 1), "identity")


def test_a_costly_work_factor_is_not_reported_as_a_wrong_passphrase(identity: bytes) -> None:
    """age refuses files whose scrypt work exceeds this machine's momentary speed + 4 and
    said "wrong passphrase"; under load that happened to the right passphrase."""
    import base64

    text = identity.decode()
    inner = "".join(text.strip().splitlines()[1:-1])
    raw = base64.b64decode(inner)
    costly = re.sub(rb"(-> scrypt \S+) \d+", rb"\1 40", raw, count=1)
    with pytest.raises(EdgewardenError) as err:
        decrypt_identity(costly, GOOD, "identity")
    assert not isinstance(err.value, WrongPassphrase)
    assert "work factor 40" in str(err.value)
