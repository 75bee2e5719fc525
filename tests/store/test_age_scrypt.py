"""Our age scrypt decoder against pyrage's files, and its refusals."""

from __future__ import annotations

import pyrage
import pytest

from controller.store import age_scrypt

PLAIN = bytes(range(256)) * 300  # two STREAM chunks


@pytest.fixture(scope="module")
def files() -> tuple[bytes, bytes]:
    return (pyrage.passphrase.encrypt(PLAIN, "pw 1234"),
            pyrage.passphrase.encrypt(b"short", "pw 1234", armored=True))


def test_pyrage_files_open(files: tuple[bytes, bytes]) -> None:
    binary, armored = files
    assert age_scrypt.decrypt(binary, b"pw 1234") == PLAIN
    assert age_scrypt.decrypt(armored, b"pw 1234") == b"short"
    with pytest.raises(age_scrypt.WrongPassphrase):
        age_scrypt.decrypt(armored, b"pw 1235")


def test_damage_is_not_a_wrong_passphrase(files: tuple[bytes, bytes]) -> None:
    binary, _ = files
    with pytest.raises(age_scrypt.AgeFormatError):
        age_scrypt.decrypt(binary[:-1], b"pw 1234")  # payload cut
    flipped = binary[:-5] + bytes([binary[-5] ^ 1]) + binary[-4:]
    with pytest.raises(age_scrypt.AgeFormatError):
        age_scrypt.decrypt(flipped, b"pw 1234")
    with pytest.raises(age_scrypt.AgeFormatError):
        age_scrypt.decrypt(b"not age at all", b"pw 1234")
    x25519 = pyrage.encrypt(b"x", [pyrage.x25519.Identity.generate().to_public()])
    with pytest.raises(age_scrypt.AgeFormatError, match="not encrypted to a passphrase"):
        age_scrypt.decrypt(x25519, b"pw 1234")
