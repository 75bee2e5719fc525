"""The SQLite file of the store: schema, and the pragmas that make commits durable.

WAL with synchronous=FULL: every commit fsyncs the WAL before it returns, so a record
the writer reports as durable survives a power cut. (synchronous=NORMAL in WAL mode only
syncs at checkpoints, and a power cut could roll back commits already reported durable.)
The writer batches many records per commit, so the fsync cost is shared.
secure_delete overwrites freed content, so dropped ciphertexts and shredded epoch keys do
not linger in free pages.
"""

from __future__ import annotations

import functools
import itertools
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from controller.errors import EdgewardenError
from controller.store.layout import fsync_dir

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    t_wall REAL NOT NULL,
    epoch INTEGER NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    severity TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    body_hash BLOB NOT NULL
);
-- ciphertexts apart from headers, so dropping them frees whole pages for reuse
CREATE TABLE IF NOT EXISTS bodies (
    seq INTEGER PRIMARY KEY,
    ct BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS records_time ON records (t_wall);
CREATE TABLE IF NOT EXISTS epochs (
    epoch INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    wrapped_key BLOB,
    shredded_at REAL
);
CREATE TABLE IF NOT EXISTS seals (
    seal_no INTEGER PRIMARY KEY,
    epoch INTEGER NOT NULL,
    kind TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    last_hash BLOB NOT NULL,
    t_wall REAL NOT NULL,
    prev_mac BLOB NOT NULL,
    mac BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS seals_epoch ON seals (epoch);
CREATE TABLE IF NOT EXISTS media (
    seq INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    t_wall REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'stored',
    PRIMARY KEY (seq, sha256)
);
CREATE INDEX IF NOT EXISTS media_time ON media (state, t_wall);
CREATE INDEX IF NOT EXISTS media_sha ON media (sha256);
"""


def create(path: Path) -> None:
    """Create the database file 0600 with the schema (the -wal/-shm files inherit 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    # auto_vacuum before the first page is written (and before WAL): lets shedding hand
    # freed pages back to the file system
    first = sqlite3.connect(path, isolation_level=None)
    try:
        first.execute("PRAGMA auto_vacuum = INCREMENTAL")
        first.executescript(_SCHEMA)
        first.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    finally:
        first.close()
    connect(path).close()  # switches the file to WAL
    fsync_dir(path.parent)


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the store's pragmas; clear error naming the file when unusable."""
    if not path.exists():
        raise EdgewardenError(f"{path}: no record database (run `edgewarden init`)")
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA secure_delete = ON")
        conn.execute("PRAGMA busy_timeout = 5000")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise EdgewardenError(f"{path}: not a usable record database ({exc})") from None
    if version not in (0, SCHEMA_VERSION):
        conn.close()
        raise EdgewardenError(f"{path}: schema version {version} is not supported")
    if not readonly and version == SCHEMA_VERSION:  # stores made before shared segments
        conn.execute("CREATE INDEX IF NOT EXISTS media_sha ON media (sha256)")
    return conn


# rows per INSERT statement: 64 x 8 columns stays under SQLite's oldest parameter limit (999)
_ROWS_PER_STATEMENT = 64


@functools.lru_cache(maxsize=32)
def _insert_sql(table: str, columns: int, rows: int) -> str:
    one = "(" + ",".join("?" * columns) + ")"
    return f"INSERT INTO {table} VALUES " + ",".join([one] * rows)  # noqa: S608 (fixed names)


def _chunks(n: int) -> Iterator[int]:
    """Split n rows into 64s, then powers of two: at most 7 statement shapes per table."""
    while n >= _ROWS_PER_STATEMENT:
        yield _ROWS_PER_STATEMENT
        n -= _ROWS_PER_STATEMENT
    size = _ROWS_PER_STATEMENT
    while n:
        size //= 2
        if n >= size:
            yield size
            n -= size


def insert_rows(conn: sqlite3.Connection, table: str, rows: Sequence[Sequence[Any]]) -> None:
    """INSERT `rows` (all of one width) into `table`, many rows per statement.

    Faster than executemany, and above all each statement is one sqlite3_step: the
    writer thread gives up and retakes the GIL once per statement, not once per row,
    which is what starved it while callers were appending.
    """
    if not rows:
        return
    columns = len(rows[0])
    start = 0
    for size in _chunks(len(rows)):
        part = rows[start : start + size]
        start += size
        conn.execute(_insert_sql(table, columns, size), list(itertools.chain.from_iterable(part)))
