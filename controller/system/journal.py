"""Log lines for journald: a `<N>` priority prefix and no timestamp of our own.

journald stamps every line itself and reads the sd-daemon priority prefix, so the service
writes `<3>store: message` to stderr. On a terminal the prefix is replaced by the level
name so a person can read it. Nothing here ever formats key material: callers log names,
counts and fingerprints only.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TextIO

# syslog priorities (sd-daemon(3)) for the logging levels
_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def priority_of(levelno: int) -> int:
    """The syslog priority for a logging level (levels between round down to the next)."""
    for level in sorted(_PRIORITY, reverse=True):
        if levelno >= level:
            return _PRIORITY[level]
    return 7


class JournalFormatter(logging.Formatter):
    """`<priority>logger: message`, one physical line per record (tracebacks folded)."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info and record.exc_info[0] is not None:
            # the exception's type and message only: a traceback's locals can hold secrets
            exc = record.exc_info[1]
            text += f" ({type(exc).__name__}: {exc})"
        text = text.replace("\n", " | ")
        return f"<{priority_of(record.levelno)}>{record.name}: {text}"


class TerminalFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")


def under_journald(stream: TextIO) -> bool:
    """True when stderr is connected to the journal ($JOURNAL_STREAM names its device)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    if not value:
        return False
    try:
        dev, ino = (int(x) for x in value.split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


def setup_logging(verbosity: int = 0, stream: TextIO | None = None) -> None:
    """Route the root logger to stderr in journald or terminal form."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    use_journal = under_journald(stream) or not stream.isatty()
    handler.setFormatter(JournalFormatter() if use_journal else TerminalFormatter())
    _route_root(handler, logging.INFO - 10 * min(verbosity, 1) if verbosity else logging.INFO)


def _route_root(handler: logging.Handler, level: int) -> None:
    """Make ``handler`` the root logger's only one."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def log_to_file(path: Path) -> None:
    """Route the root logger to a private (0600) file, with timestamps.

    For when stderr is a terminal something else draws on (the demo's TUI): log lines
    written there would tear its screen.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    handler = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8", buffering=1))
    handler.setFormatter(TerminalFormatter())
    _route_root(handler, logging.INFO)
