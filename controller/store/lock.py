"""One writer per data directory: an flock on `writer.lock`, held for the life of the process.

Two writers on one store corrupt each other's chain (duplicate sequence and seal numbers)
and end-seal each other's epochs, so `run`, `init`, and a CLI `export` take this lock
before they open anything in the data directory. The lock file (0600) also says who
holds it (pid, command, runtime directory and control socket) so a refusal can name the
holder and a CLI `export` can find the running service and go through it instead.
The kernel drops an flock when its holder dies, so a crash never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from controller.errors import EdgewardenError

LOCK_NAME = "writer.lock"


@dataclass(frozen=True)
class LockHolder:
    """What the lock file says about the process that holds it."""

    pid: int
    command: str
    runtime_dir: str | None = None
    control_socket: str | None = None
    started: float | None = None

    def describe(self) -> str:
        if self.pid <= 0:
            return "another process"
        where = f", control socket {self.control_socket}" if self.control_socket else (
            f", runtime dir {self.runtime_dir}" if self.runtime_dir else "")
        return f"pid {self.pid} (`edgewarden {self.command}`{where})"


class StoreLocked(EdgewardenError):
    """Another process is the writer of this data directory."""

    def __init__(self, data_dir: Path, holder: LockHolder | None) -> None:
        who = holder.describe() if holder is not None else "another process"
        super().__init__(f"{data_dir}: the record store is in use by {who}; "
                         "refusing to open it a second time")
        self.holder = holder


def lock_path(data_dir: Path) -> Path:
    return Path(data_dir) / LOCK_NAME


def _parse(data: bytes) -> LockHolder | None:
    try:
        doc = json.loads(data.decode("utf-8"))
        return LockHolder(int(doc["pid"]), str(doc["command"]), doc.get("runtime_dir"),
                          doc.get("control_socket"), doc.get("started"))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


def _read_holder(fd: int) -> LockHolder | None:
    # the holder writes its line right after taking the lock: a reader racing it retries
    for _ in range(20):
        holder = _parse(os.pread(fd, 4096, 0))
        if holder is not None:
            return holder
        time.sleep(0.01)
    return None


def _lock_exclusive(fd: int) -> None:
    """flock without blocking; a brief shared lock taken by `current_holder` is waited out."""
    for attempt in range(10):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN) or attempt == 9:
                raise
            if _parse(os.pread(fd, 4096, 0)) is not None:
                raise  # a real writer holds it
            time.sleep(0.05)


class StoreLock:
    """The held lock; `release()` (or leaving the `with`) gives it up."""

    def __init__(self, data_dir: Path, fd: int, holder: LockHolder) -> None:
        self.data_dir = data_dir
        self.holder = holder
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path | str, command: str, *, runtime_dir: Path | None = None,
                control_socket: Path | None = None) -> StoreLock:
        """Take the lock or raise StoreLocked naming the holder; nothing else is touched."""
        data_dir = Path(data_dir)
        path = lock_path(data_dir)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except FileNotFoundError:
            raise EdgewardenError(
                f"{data_dir}: no such data directory (run `edgewarden init`)") from None
        except OSError as exc:
            raise EdgewardenError(
                f"{data_dir}: cannot write the data directory ({exc.strerror})") from None
        try:
            _lock_exclusive(fd)
        except OSError as exc:
            holder = _read_holder(fd) if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN) else None
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise StoreLocked(data_dir, holder) from None
            raise EdgewardenError(f"{path}: cannot lock ({exc.strerror})") from None
        holder = LockHolder(os.getpid(), command,
                            str(runtime_dir) if runtime_dir is not None else None,
                            str(control_socket) if control_socket is not None else None,
                            time.time())
        line = json.dumps({"pid": holder.pid, "command": holder.command,
                           "runtime_dir": holder.runtime_dir,
                           "control_socket": holder.control_socket,
                           "started": holder.started}).encode("utf-8") + b"\n"
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, line, 0)
        except OSError as exc:
            # a full disk must not stop the writer from starting: the lock itself holds
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                os.close(fd)
                raise EdgewardenError(
                    f"{path}: cannot write the lock file ({exc.strerror})") from None
        return cls(data_dir, fd, holder)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the only descriptor drops the flock

    def __enter__(self) -> StoreLock:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def current_holder(data_dir: Path | str) -> LockHolder | None:
    """Who holds the lock now (None when nobody does); never takes or creates it."""
    path = lock_path(Path(data_dir))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        try:
            # a shared lock succeeds only when no writer holds the exclusive one
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return _read_holder(fd) or LockHolder(0, "unknown")
            return None
        return None
    finally:
        os.close(fd)
