"""`edgewarden init` and `edgewarden verify` as an admin uses them."""

from __future__ import annotations

import base64
import logging
import os
import re
import sqlite3
import stat
from pathlib import Path

import pyrage
import pytest

from controller.cli import main
from controller.config import StoreConfig
from controller.errors import EdgewardenError
from controller.store import HistoryReader, RecordWriter, sealstate, unlock_identity
from controller.store.passphrase import weakness

PASSPHRASE = "correct horse 42 battery"


def run_cli(argv: list[str], passphrase: str | None = None) -> int:
    if passphrase is None:
        return main(argv)
    r, w = os.pipe()
    os.write(w, passphrase.encode() + b"\n")
    os.close(w)
    try:
        return main([*argv, "--passphrase-fd", str(r)])
    finally:
        os.close(r)


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path, str]:
    """One init with a real passphrase (scrypt is slow), then a few records."""
    base = tmp_path_factory.mktemp("cli")
    data = base / "data"
    out = base / "identity-copy.age"
    capture = base / "init.out"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = run_cli(["init", "--data-dir", str(data), "--identity-out", str(out)], PASSPHRASE)
    assert code == 0
    capture.write_text(buf.getvalue())
    key = re.search(r"ewvk1-[a-z2-7-]+", buf.getvalue())
    assert key, buf.getvalue()
    with RecordWriter.open(data, StoreConfig(commit_interval_ms=5)) as w:
        for i in range(30):
            w.append("reading", "n/t", "info", {"i": i})
        w.flush(5)
    return data, key.group(0), out, buf.getvalue()


def test_init_prints_key_once_and_creates_private_files(initialised: tuple) -> None:
    data, key, out, text = initialised
    assert text.count(key) == 1 and "fingerprint" in text
    assert key not in "".join(p.read_text(errors="replace") for p in data.rglob("*")
                              if p.is_file())
    for p in (data, data / "keys", data / "media"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o700
    for p in [*(data / "keys").iterdir(), out, data / "store.json", data / "records.db"]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


def test_init_refuses_an_initialised_dir(
    initialised: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    data, *_ = initialised
    before = (data / "keys" / "seal.key").read_bytes()
    assert run_cli(["init", "--data-dir", str(data)], PASSPHRASE) == 1
    assert "already initialised" in capsys.readouterr().err
    assert (data / "keys" / "seal.key").read_bytes() == before


@pytest.mark.parametrize(("phrase", "reason"), [
    ("short1A", "shorter than 12"), ("alllowercaseletters", "one kind of character"),
])
def test_init_refuses_weak_passphrases(tmp_path: Path, phrase: str, reason: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["init", "--data-dir", str(tmp_path / "d")], phrase) == 2
    assert reason in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
    assert weakness(PASSPHRASE) is None


def test_init_refuses_a_bad_recipient(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli(["init", "--data-dir", str(tmp_path / "d"), "--no-identity-on-device",
                    "--recipient", "age1notakey"])
    assert code == 2 and "age1notakey" in capsys.readouterr().err


def test_verify_passes_and_checks_tags_with_the_identity(
    initialised: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    data, key, _, _ = initialised
    assert run_cli(["verify", "--data-dir", str(data), "--verification-key", key]) == 0
    assert run_cli(["verify", "--data-dir", str(data), "--verification-key", key,
                    "--identity"], PASSPHRASE) == 0
    assert "30 AEAD tags checked" in capsys.readouterr().out


def test_verify_reports_tampering_with_exit_1(
    initialised: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    data, key, _, _ = initialised
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    with sqlite3.connect(copy / "records.db") as c:
        c.execute("DELETE FROM records WHERE seq = 10")
    assert run_cli(["verify", "--data-dir", str(copy), "--verification-key", key]) == 1
    captured = capsys.readouterr()
    assert "FAIL: records 10 missing" in captured.out
    assert "verification failed" in captured.err


def test_verify_rejects_a_mistyped_key(
    initialised: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    data, key, _, _ = initialised
    i = len("ewvk1-") + 7
    typo = key[:i] + ("a" if key[i] != "a" else "b") + key[i + 1 :]
    assert run_cli(["verify", "--data-dir", str(data), "--verification-key", typo]) == 2
    assert "typo" in capsys.readouterr().err


def test_wrong_passphrase_reads_nothing_and_says_so(
    initialised: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    data, key, out, _ = initialised
    with pytest.raises(EdgewardenError, match="wrong passphrase"):
        unlock_identity(data, "not the passphrase 1")
    assert run_cli(["verify", "--data-dir", str(data), "--verification-key", key,
                    "--identity", str(out)], "wrong passphrase 99") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "wrong passphrase" in err[0]


def test_identity_copy_reads_history(initialised: tuple) -> None:
    data, _, out, _ = initialised
    identity = unlock_identity(data, PASSPHRASE)
    with HistoryReader(data, identity) as h:
        assert [r.body["i"] for r in h.records()] == list(range(30))
    copy = pyrage.passphrase.decrypt(out.read_bytes(), PASSPHRASE)
    assert str(identity) in copy.decode()


def test_no_key_material_in_logs_or_output(
    initialised: tuple, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    data, key, _, init_text = initialised
    caplog.set_level(logging.DEBUG)
    identity = unlock_identity(data, PASSPHRASE)
    state = sealstate.load(data / "keys" / "seal.key")
    with RecordWriter.open(data, StoreConfig(commit_interval_ms=5)) as w:
        w.append("audit", "test", "info", {"x": 1}).wait_durable(5)
        writer_repr = repr(w)
        try:
            w.append("reading", "a", "info", {"bad": object()})
        except ValueError as exc:
            error_text = str(exc)
    run_cli(["verify", "--data-dir", str(data), "--verification-key", key, "--identity"],
            "wrong passphrase 99")
    run_cli(["verify", "--data-dir", str(data), "--verification-key", key])
    captured = capsys.readouterr()
    haystack = "\n".join([captured.out, captured.err, caplog.text, writer_repr, error_text,
                          repr(state), init_text.replace(key, "")])
    secret_key = state.key
    needles = [str(identity), secret_key.hex(), base64.b64encode(secret_key).decode(),
               key, PASSPHRASE]
    for needle in needles:
        assert needle not in haystack
