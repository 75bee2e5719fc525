"""Replacing a file so that a crash or power cut leaves either the old or the new one.

The temp file sits in the same directory (so the rename is atomic) under a dotted name
that ends in `.tmp` (so collectors watching for `*.prom` or `*.toml` ignore it); its mode
is set explicitly (the service's UMask may be stricter than the file needs), and file and
directory are fsynced before this returns.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_atomic(path: Path, content: bytes, mode: int) -> None:
    """Durably replace `path` with `content`, created with `mode`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
