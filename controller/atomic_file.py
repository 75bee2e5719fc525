"""Durable file writes: the one place that replaces or creates a file so a crash loses nothing.

Replacing (`write_atomic`, `replacing`): the content goes to a temp file in the same
directory (so the rename is atomic) under a dotted name that ends in `.tmp` (so collectors
watching for `*.prom` or `*.toml` ignore it); its mode is set explicitly (the service's
UMask may be stricter than the file needs); the temp file is fsynced, renamed over the
target, and the directory fsynced before this returns. A crash or power cut at any instant
leaves the old file or the new one under the name, never a partial one; a failure removes
the temp file. `scrub_old` overwrites the old contents with zeros (fsynced) before the
rename, for secrets that must not survive on the medium.

Creating (`write_new`, `creating`): a new file, never an existing one (O_EXCL), fsynced,
and its directory fsynced unless the caller syncs a whole tree at the end (a bundle).

Every user imports this module (controller, its store, evidence and service); it imports
nothing of the project, so it sits below every package.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_OPEN_FLAGS = os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW


def fsync_dir(path: Path) -> None:
    """Make the names in directory `path` durable (a rename, a new file)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, content: bytes, mode: int, *, scrub_old: bool = False,
                 temp: Path | None = None) -> None:
    """Durably replace `path` with `content`, created with `mode`."""
    with replacing(path, mode, scrub_old=scrub_old, temp=temp) as f:
        f.write(content)


@contextlib.contextmanager
def replacing(path: Path, mode: int, *, encoding: str | None = None, scrub_old: bool = False,
              temp: Path | None = None) -> Iterator[IO[Any]]:
    """A file to write the new content of `path` into; it replaces `path` on a clean exit.

    Binary unless `encoding` is given (then text, newlines untranslated). `temp` names
    the temp file when a reader must find it after a crash (a key's `.new`).
    """
    tmp = temp or path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, _OPEN_FLAGS | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with _synced(fd, mode, encoding, 1 << 16) as f:
            yield f
        if scrub_old:
            fsync_dir(path.parent)  # the new content is durable under `tmp` first
            _zero(path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_new(path: Path, content: bytes, mode: int = 0o600, *, sync_dir: bool = True) -> None:
    """Create `path` (refusing to overwrite) with `content` and `mode`, durably."""
    with creating(path, mode, sync_dir=sync_dir) as f:
        f.write(content)


@contextlib.contextmanager
def creating(path: Path, mode: int = 0o600, *, sync_dir: bool = True,
             buffering: int = 1 << 16) -> Iterator[IO[bytes]]:
    """A new binary file at `path` (O_EXCL), fsynced on a clean exit, removed on a failure.

    `sync_dir=False` leaves the directory to the caller, which fsyncs a whole tree once.
    """
    fd = os.open(path, _OPEN_FLAGS | os.O_CREAT | os.O_EXCL, mode)
    try:
        with _synced(fd, mode, None, buffering) as f:
            yield f
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
    if sync_dir:
        fsync_dir(path.parent)


@contextlib.contextmanager
def _synced(fd: int, mode: int, encoding: str | None, buffering: int) -> Iterator[IO[Any]]:
    """The open fd as a file with `mode` set; flushed, fsynced and closed at the end."""
    try:
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        raise
    if encoding is None:
        f: IO[Any] = os.fdopen(fd, "wb", buffering=buffering)
    else:
        f = os.fdopen(fd, "w", encoding=encoding, newline="", buffering=buffering)
    with f:
        yield f
        f.flush()
        os.fsync(f.fileno())


def _zero(path: Path) -> None:
    """Overwrite the file's bytes in place with zeros and fsync (no file: nothing to do)."""
    try:
        old = open(path, "r+b")  # noqa: SIM115 - closed below, after the fsync
    except FileNotFoundError:
        return
    with old:
        size = os.fstat(old.fileno()).st_size
        old.write(bytes(size))
        old.flush()
        os.fsync(old.fileno())
