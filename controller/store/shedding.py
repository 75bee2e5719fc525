"""Disk-full shedding: what the writer gives up, oldest first, to keep storing alarms.

Media files go first (state `shed`), then the ciphertexts of the oldest readings; their
headers and body hashes stay, so the chain still verifies. Runs in the writer thread,
inside the writer's transactions; the writer decides when (`space.plan_space`) and
records an audit record of what was shed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controller.store.layout import StoreLayout

_SHED_CHUNK = 2000
Write = Callable[[str, list[tuple[Any, ...]]], None]  # executemany in a transaction, with space
WithSpace = Callable[[Callable[[], Any]], Any]


@dataclass(frozen=True)
class Shed:
    """What one shedding pass gave up."""

    count: int = 0
    size: int = 0
    hashes: tuple[str, ...] = ()
    first_seq: int | None = None
    last_seq: int | None = None
    seqs: tuple[int, ...] = ()  # the readings whose bodies went (for their tombstones)


def delete_media_file(layout: StoreLayout, sha: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(layout.media_file(sha))


def db_free(conn: sqlite3.Connection) -> int:
    """Bytes of free pages inside the database file (reused before it grows)."""
    pages = conn.execute("PRAGMA freelist_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int(pages) * int(size)


def media_left(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM media WHERE state = 'stored' LIMIT 1").fetchone() is not None


def shed_media(conn: sqlite3.Connection, layout: StoreLayout, target: int,
               fs_free: Callable[[], int], write: Write) -> Shed:
    """Delete media files, oldest first, until `fs_free()` reaches `target`."""
    count = size = 0
    hashes: list[str] = []
    while fs_free() < target:
        rows = conn.execute(
            "SELECT seq, sha256, size FROM media WHERE state = 'stored' "
            "ORDER BY t_wall, seq LIMIT 50"
        ).fetchall()
        if not rows:
            break
        for _seq, sha, n in rows:
            delete_media_file(layout, sha)
            hashes.append(sha)
            count += 1
            size += int(n)
        # every record naming the file (a segment shared by events) loses it
        write("UPDATE media SET state = 'shed' WHERE sha256 = ?", [(r[1],) for r in rows])
    return Shed(count, size, tuple(hashes))


def shed_readings(conn: sqlite3.Connection, target: int, free: Callable[[], int],
                  write: Write, with_space: WithSpace) -> Shed:
    """Drop the ciphertexts of the oldest readings until `free()` reaches `target`."""
    total, first, last = 0, None, None
    shed: list[int] = []
    while free() < target:
        seqs = [r[0] for r in conn.execute(
            "SELECT b.seq FROM bodies b JOIN records r ON r.seq = b.seq "
            "WHERE r.kind = 'reading' ORDER BY b.seq LIMIT ?", (_SHED_CHUNK,)
        )]
        if not seqs:
            break
        write("DELETE FROM bodies WHERE seq = ?", [(s,) for s in seqs])
        give_back_pages(conn, with_space)
        total += len(seqs)
        shed.extend(seqs)
        first = seqs[0] if first is None else first
        last = seqs[-1]
    return Shed(total, first_seq=first, last_seq=last, seqs=tuple(shed))


def give_back_pages(conn: sqlite3.Connection, with_space: WithSpace) -> None:
    """Hand freed pages back to the file system, so shedding really frees disk space.

    The WAL is checkpointed and truncated (the deletions' frames otherwise keep the
    space), then an incremental vacuum shrinks the database file (stores created with
    auto_vacuum=INCREMENTAL; older ones reuse the freed pages, which `db_free` counts)."""
    c = conn
    checkpoint = functools.partial(_checkpoint, c)
    c.execute("PRAGMA busy_timeout = 200")  # a reader must not stall the writer
    try:
        with contextlib.suppress(sqlite3.Error, OSError):
            # copying the WAL's tail into the database may grow it: the reserve helps
            with_space(checkpoint)
            if int(c.execute("PRAGMA auto_vacuum").fetchone()[0]) != 2:
                return
            # in steps, so each step's own WAL frames fit in what the last one freed
            while (free := int(c.execute("PRAGMA freelist_count").fetchone()[0])) > 0:
                # executescript steps it to the end (execute frees a single page)
                with_space(functools.partial(
                    c.executescript, f"PRAGMA incremental_vacuum({min(free, 256)});"))
                with_space(checkpoint)
                if int(c.execute("PRAGMA freelist_count").fetchone()[0]) >= free:
                    break
    finally:
        c.execute("PRAGMA busy_timeout = 5000")


def _checkpoint(conn: sqlite3.Connection) -> None:
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        raise sqlite3.OperationalError("checkpoint blocked by a reader")
