"""The record identity (age X25519 secret): unlocking it with the passphrase."""

from __future__ import annotations

from pathlib import Path

import pyrage

from controller.errors import EdgewardenError, UsageError
from controller.store.age_scrypt import WrongPassphrase
from controller.store.layout import StoreLayout

_SECRET_PREFIX = b"AGE-SECRET-KEY-"

__all__ = ["WrongPassphrase", "decrypt_identity", "is_encrypted_identity",
           "load_identity_file", "unlock_identity"]


def _parse(plain: bytes, where: Path | str) -> pyrage.x25519.Identity:
    for line in plain.splitlines():
        if line.strip().startswith(_SECRET_PREFIX):
            try:
                return pyrage.x25519.Identity.from_str(line.strip().decode("ascii"))
            except (pyrage.IdentityError, UnicodeDecodeError, ValueError):
                break
    raise EdgewardenError(f"{where}: holds no usable age X25519 identity")


def is_encrypted_identity(data: bytes) -> bool:
    return not data.lstrip().startswith(_SECRET_PREFIX) and not data.lstrip().startswith(b"#")


def load_identity_file(path: Path, passphrase: str | None) -> pyrage.x25519.Identity:
    """A plain age identity file, or a passphrase-encrypted one (needs `passphrase`)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read identity ({exc.strerror})") from None
    if not is_encrypted_identity(data):
        return _parse(data, path)
    if passphrase is None:
        raise UsageError(f"{path}: identity is passphrase-protected; a passphrase is needed")
    return decrypt_identity(data, passphrase, path)


def decrypt_identity(data: bytes, passphrase: str | bytes, where: Path | str,
                     ) -> pyrage.x25519.Identity:
    """A passphrase-encrypted (age scrypt) identity opened; `where` names it in errors.

    Decrypted by controller.store.age_scrypt, not pyrage: the age library's work-factor
    limit follows the machine's momentary speed and, under load, turned the right
    passphrase into "wrong passphrase".
    """
    from controller.store import age_scrypt
    from controller.store.passphrase import passphrase_bytes

    secret = passphrase_bytes(passphrase)
    try:
        plain = age_scrypt.decrypt(data, secret)
    except WrongPassphrase:
        raise WrongPassphrase(f"{where}: wrong passphrase (nothing was read)") from None
    except age_scrypt.WorkFactorTooHigh as exc:
        raise EdgewardenError(f"{where}: {exc}; not opened") from None
    except age_scrypt.AgeFormatError as exc:
        raise EdgewardenError(f"{where}: {exc}") from None
    return _parse(plain, where)


def unlock_identity(data_dir: Path | str, passphrase: str) -> pyrage.x25519.Identity:
    """The device's stored identity, decrypted with the admin passphrase."""
    layout = StoreLayout(Path(data_dir))
    if not layout.identity.exists():
        raise EdgewardenError(
            f"{layout.identity}: no identity on this device (kept off-device at init)"
        )
    return load_identity_file(layout.identity, passphrase)


def open_identity(path: Path, passphrase_fd: int | None) -> pyrage.x25519.Identity:
    """An identity file for a command: asks for (or reads from fd N) its passphrase if any."""
    from controller.store import passphrase as pw

    try:
        encrypted = is_encrypted_identity(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"{path}: cannot read identity ({exc.strerror})") from None
    passphrase = None
    if encrypted:
        passphrase = (pw.read_from_fd(passphrase_fd) if passphrase_fd is not None
                      else pw.prompt_existing("Identity passphrase"))
    return load_identity_file(path, passphrase)
