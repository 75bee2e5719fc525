"""The disk space kept for alarm and audit records, held as a real pre-allocated file.

A size check alone cannot keep a reserve: anything else on the file system (a log, a
`dd`, the database's own WAL) can take the last bytes. So the writer holds `reserve`
(0600, `reserved_space_mb`, allocated with posix_fallocate) and, when a write of an
alarm or audit record meets a full disk, gives back a chunk of it and retries. While the
reserve is not whole, only protected records are written; it is filled again once the
file system has room.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

CHUNK = 1 << 20
FLOOR = 1 << 20  # never fill the reserve into the file system's last free MB


class Reserve:
    def __init__(self, path: Path, target: int) -> None:
        self.path = path
        self.target = max(0, target)
        try:
            self.held = path.stat().st_size
        except OSError:
            self.held = 0

    @property
    def intact(self) -> bool:
        return self.held >= self.target

    def fill(self, fs_free: int) -> None:
        """Grow towards the target with the space the file system has above FLOOR."""
        if self.held > self.target:  # the configured reserve was made smaller
            try:
                os.truncate(self.path, self.target)
                self.held = self.target
            except OSError:
                pass
            return
        if self.held >= self.target:
            return
        size = min(self.target, self.held + max(0, fs_free - FLOOR))
        if size <= self.held:
            return
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW,
                         0o600)
        except OSError:
            return
        try:
            os.posix_fallocate(fd, 0, size)
            self.held = size
        except OSError:
            # keep what is really allocated (a failed fallocate may leave part of it)
            with contextlib.suppress(OSError):
                self.held = min(self.target, os.fstat(fd).st_blocks * 512)
                os.ftruncate(fd, self.held)
        finally:
            os.close(fd)

    def release_chunk(self) -> bool:
        """Give a chunk back to the file system; False when nothing is left to give."""
        if self.held <= 0:
            return False
        size = max(0, self.held - CHUNK)
        try:
            if size:
                os.truncate(self.path, size)
            else:
                self.path.unlink()
        except FileNotFoundError:
            size = 0
        except OSError:
            return False
        self.held = size
        return True
