"""Checksums of many files at once, on every core (the verification half of an export).

hashlib and file reads release the GIL, so a few threads hash files side by side; one
read of each file feeds every algorithm asked for. This replaces bagit's one-file-at-a-time
loop (or its process pool, which a service thread must not fork) for bundle checking.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

_BLOCK = 1 << 20


@dataclass(frozen=True)
class FileDigests:
    path: Path
    digests: dict[str, str]  # algorithm -> hex digest; empty when the file is unreadable
    size: int
    error: str = ""


def workers() -> int:
    """Threads worth running: the cores this process may use, at most four."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def digest_file(path: Path, algorithms: Iterable[str]) -> FileDigests:
    """Every algorithm's digest of one file from a single read of it."""
    try:
        hashers = {alg: hashlib.new(alg) for alg in algorithms}
    except ValueError as exc:
        return FileDigests(path, {}, 0, f"unknown checksum algorithm ({exc})")
    buf = bytearray(_BLOCK)
    view = memoryview(buf)
    size = 0
    try:
        with path.open("rb", buffering=0) as f:
            while n := f.readinto(buf):
                chunk = view[:n]
                for h in hashers.values():
                    h.update(chunk)
                size += n
    except OSError as exc:
        return FileDigests(path, {}, size, exc.strerror or str(exc))
    return FileDigests(path, {alg: h.hexdigest() for alg, h in hashers.items()}, size)


def digest_files(
    jobs: Iterable[tuple[Path, Iterable[str]]],
    on_done: Callable[[FileDigests], None] | None = None,
    threads: int | None = None,
) -> list[FileDigests]:
    """Digests of every (path, algorithms) job, in the order given, hashed in parallel.

    ``on_done`` is called in the caller's thread as results arrive (for progress).
    """
    todo = [(p, tuple(a)) for p, a in jobs]
    n = threads or workers()
    results: list[FileDigests] = []
    with contextlib.ExitStack() as stack:
        if n > 1 and len(todo) > 1:
            pool = stack.enter_context(
                ThreadPoolExecutor(max_workers=n, thread_name_prefix="fixity"))
            pending = [pool.submit(digest_file, p, a).result for p, a in todo]
        else:
            pending = [functools.partial(digest_file, p, a) for p, a in todo]
        for get in pending:
            results.append(get())
            if on_done is not None:
                on_done(results[-1])
    return results
