"""The admin passphrase: a strength rule (pure) and the two ways of reading it.

Rule: at least 12 characters and not all of one class (lower case, upper case, digits,
other). It is enough against online guessing and, behind age's scrypt, makes offline
guessing of a stolen identity file slow; it is deliberately simple to explain.
"""

from __future__ import annotations

import getpass
import os

from controller.errors import UsageError

MIN_LENGTH = 12


def weakness(passphrase: str) -> str | None:
    """Why a passphrase is refused, or None when it is acceptable."""
    if len(passphrase) < MIN_LENGTH:
        return f"shorter than {MIN_LENGTH} characters"
    classes = {
        "lower" if c.islower() else "upper" if c.isupper() else "digit" if c.isdigit()
        else "other"
        for c in passphrase
    }
    if len(classes) < 2:
        return "uses only one kind of character (mix letters, digits or symbols)"
    return None


def read_from_fd(fd: int) -> str:
    """One line from an inherited file descriptor (automation); the newline is dropped."""
    try:
        with os.fdopen(os.dup(fd), "rb") as f:
            raw = f.readline(4096)
    except OSError as exc:
        raise UsageError(f"--passphrase-fd {fd}: cannot read ({exc.strerror})") from None
    text = raw.decode("utf-8", errors="strict").rstrip("\r\n")
    if not text:
        raise UsageError(f"--passphrase-fd {fd}: empty passphrase")
    return text


def prompt_new() -> str:
    """Ask twice on the terminal; UsageError when they differ."""
    first = getpass.getpass("New admin passphrase: ")
    second = getpass.getpass("Repeat the passphrase: ")
    if first != second:
        raise UsageError("the two passphrases differ")
    return first


def prompt_existing(what: str = "Admin passphrase") -> str:
    return getpass.getpass(f"{what}: ")
