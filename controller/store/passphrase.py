"""The admin passphrase: a strength rule (pure) and the two ways of reading it.

Rule: at least 12 characters and not all of one class (lower case, upper case, digits,
other). It is enough against online guessing and, behind age's scrypt, makes offline
guessing of a stolen identity file slow; it is deliberately simple to explain.

A passphrase is UTF-8 text of at most `MAX_BYTES` bytes (age passphrases are text); longer
or undecodable input is refused with a clear line, never cut or turned into a traceback.
"""

from __future__ import annotations

import getpass
import os
import select

from controller.errors import UsageError

MIN_LENGTH = 12
MAX_BYTES = 1024


def passphrase_bytes(passphrase: str | bytes, what: str = "passphrase") -> bytes:
    """The passphrase as the UTF-8 bytes scrypt takes; UsageError past MAX_BYTES."""
    if isinstance(passphrase, str):
        try:
            raw = passphrase.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates from an undecodable terminal
            raise UsageError(f"{what}: not valid UTF-8 text") from None
    else:
        raw = bytes(passphrase)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{what}: not valid UTF-8 text") from None
    if len(raw) > MAX_BYTES:
        raise UsageError(f"{what}: longer than {MAX_BYTES} bytes ({len(raw)}); "
                         "nothing was cut, use a shorter one")
    return raw


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
    """One line from an inherited file descriptor (automation); the newline is dropped.

    Read with os.read until the newline or end of file, waiting when the descriptor is
    non-blocking: a read that returns part of the line is never taken for all of it.
    """
    where = f"--passphrase-fd {fd}"
    raw = bytearray()
    while b"\n" not in raw and len(raw) <= MAX_BYTES + 2:
        try:
            chunk = os.read(fd, MAX_BYTES + 3 - len(raw))
        except BlockingIOError:
            select.select([fd], [], [])
            continue
        except InterruptedError:
            continue
        except OSError as exc:
            raise UsageError(f"{where}: cannot read ({exc.strerror})") from None
        if not chunk:
            break
        raw += chunk
    line = bytes(raw).split(b"\n", 1)[0].removesuffix(b"\r")
    if b"\n" not in raw and len(raw) > MAX_BYTES:
        raise UsageError(f"{where}: passphrase longer than {MAX_BYTES} bytes; nothing was "
                         "cut, use a shorter one")
    passphrase_bytes(line, where)  # limit and UTF-8, with a clear line
    text = line.decode("utf-8")
    if not text:
        raise UsageError(f"{where}: empty passphrase")
    return text


def prompt_new(instead: str = "--passphrase-fd N") -> str:
    """Ask twice on the terminal; UsageError when they differ (`instead`: the option
    that gives it without one, named when there is no terminal)."""
    first = _ask("New admin passphrase", instead)
    second = _ask("Repeat the passphrase", instead)
    if first != second:
        raise UsageError("the two passphrases differ")
    passphrase_bytes(first)
    return first


def prompt_existing(what: str = "Admin passphrase", instead: str = "--passphrase-fd N"
                    ) -> str:
    text = _ask(what, instead)
    passphrase_bytes(text, what.lower())
    return text


def _ask(what: str, instead: str) -> str:
    """One line typed on the controlling terminal, not echoed.

    Without a terminal (a script, `ssh host cmd` without -t, a service) getpass would
    read stdin instead and echo what it reads, or end in a traceback at its end: the
    command stops with one line naming the option that gives the secret instead."""
    if not _has_terminal():
        raise UsageError(f"no terminal to ask for the {what.lower()} on: give it with "
                         f"{instead} (or run on a terminal, e.g. `ssh -t`)")
    try:
        return getpass.getpass(f"{what}: ")
    except EOFError:  # Ctrl-D at the prompt
        raise UsageError(f"no {what.lower()} given (end of input)") from None


def _has_terminal() -> bool:
    """Whether this process has a controlling terminal getpass can ask on."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True
