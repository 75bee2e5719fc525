"""Read-only access to the store's tables for the other packages (export, status).

The store's SQL stays inside `controller/store`: evidence export and the service's status
ask through this API (one read-only connection, optionally one snapshot for a whole
export while the service keeps writing) and never see a table.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pyrage

from controller.store import database
from controller.store.history import EpochKeys
from controller.store.records import Header
from controller.store.retention_class import class_of
from controller.store.sealing import Seal


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One stored record, still encrypted: header, body hash, ciphertext (None: expired)."""

    header: Header
    body_hash: bytes
    ct: bytes | None


@dataclass(frozen=True, slots=True)
class StoredMedia:
    seq: int
    sha256: str
    size: int
    state: str  # stored, shed, expired


def _record(row: tuple[int, float, int, str, str, str, bytes, bytes, bytes | None],
            ) -> StoredRecord:
    seq, t_wall, epoch, kind, source, severity, prev, body_hash, ct = row
    return StoredRecord(Header(seq, t_wall, epoch, kind, source, severity, bytes(prev)),
                        bytes(body_hash), None if ct is None else bytes(ct))


_RECORDS = ("SELECT r.seq, r.t_wall, r.epoch, r.kind, r.source, r.severity, r.prev_hash, "
            "r.body_hash, b.ct FROM records r LEFT JOIN bodies b ON b.seq = r.seq ")


class StoreReader:
    """A read-only view of a store's records, seals, epochs and media rows."""

    def __init__(self, database_path: Path) -> None:
        self._conn = database.connect(database_path, readonly=True)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[StoreReader]:
        """One read transaction: everything read inside sees the same store."""
        self._conn.isolation_level = None
        self._conn.execute("BEGIN")
        try:
            yield self
        finally:
            self._conn.execute("COMMIT")

    # ------------------------------------------------------------------ records
    def headers_between(self, since: float | None,
                        until: float | None) -> Iterator[tuple[int, float, str, str]]:
        """(seq, t_wall, kind, source) of records with since <= t_wall <= until."""
        lo = -math.inf if since is None else since
        hi = math.inf if until is None else until
        yield from self._conn.execute(
            "SELECT seq, t_wall, kind, source FROM records WHERE t_wall >= ? AND t_wall <= ?",
            (lo, hi))

    def last_seq(self) -> int:
        return int(self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()[0])

    def count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def records(self, first_seq: int = 1, last_seq: int | None = None) -> Iterator[StoredRecord]:
        """Records first_seq..last_seq (all after first_seq when None) in seq order."""
        hi = 2**63 - 1 if last_seq is None else last_seq
        for row in self._conn.execute(_RECORDS + "WHERE r.seq BETWEEN ? AND ? ORDER BY r.seq",
                                      (first_seq, hi)):
            yield _record(row)

    def sources_starting(self, prefix: str) -> Iterator[tuple[int, float, str]]:
        """(seq, t_wall, source) of records whose clear, chained source starts with
        `prefix` (tombstones, state digests), in seq order."""
        yield from self._conn.execute(
            "SELECT seq, t_wall, source FROM records WHERE source >= ? AND source < ? "
            "ORDER BY seq", (prefix, prefix + "\uffff"))

    def last_source_starting(self, prefix: str) -> tuple[int, str] | None:
        """(seq, source) of the newest record whose source starts with `prefix`."""
        row = self._conn.execute(
            "SELECT seq, source FROM records WHERE source >= ? AND source < ? "
            "ORDER BY seq DESC LIMIT 1", (prefix, prefix + "\uffff")).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def ciphertext_bytes(self, first_seq: int, last_seq: int) -> int:
        row = self._conn.execute("SELECT COALESCE(SUM(LENGTH(ct)), 0) FROM bodies "
                                 "WHERE seq BETWEEN ? AND ?", (first_seq, last_seq))
        return int(row.fetchone()[0])

    def records_naming_media(self, sha256: str) -> Iterator[StoredRecord]:
        """Every record with a ciphertext that names this media file, in seq order."""
        for row in self._conn.execute(
                _RECORDS + "JOIN media m ON m.seq = r.seq WHERE m.sha256 = ? AND b.ct IS NOT "
                "NULL ORDER BY r.seq", (sha256,)):
            yield _record(row)

    # ------------------------------------------------------------------ seals, epochs
    def seals(self) -> list[Seal]:
        return [Seal(n, e, k, ls, bytes(lh), tw, bytes(pm), bytes(m))
                for n, e, k, ls, lh, tw, pm, m in self._conn.execute(
                    "SELECT seal_no, epoch, kind, last_seq, last_hash, t_wall, prev_mac, mac "
                    "FROM seals ORDER BY seal_no")]

    def last_seal(self) -> Seal | None:
        """The newest seal (the head a checkpoint states), None before the first."""
        row = self._conn.execute(
            "SELECT seal_no, epoch, kind, last_seq, last_hash, t_wall, prev_mac, mac "
            "FROM seals ORDER BY seal_no DESC LIMIT 1").fetchone()
        if row is None:
            return None
        n, e, k, ls, lh, tw, pm, m = row
        return Seal(n, e, k, ls, bytes(lh), tw, bytes(pm), bytes(m))

    def epochs(self) -> dict[int, tuple[bool, bool]]:
        """Per epoch: (has a wrapped data key, was shredded)."""
        return {e: (wk is not None, sh is not None) for e, wk, sh in self._conn.execute(
            "SELECT epoch, wrapped_key, shredded_at FROM epochs")}

    def wrapped_keys(self, epochs: Iterable[int]) -> Iterator[tuple[int, bytes | None]]:
        """(epoch, age-encrypted data key or None when shredded), in epoch order."""
        wanted = sorted(set(epochs))
        if not wanted:
            return
        for e, wk in self._conn.execute(
                "SELECT epoch, wrapped_key FROM epochs WHERE epoch BETWEEN ? AND ? "
                "ORDER BY epoch", (wanted[0], wanted[-1])):
            if e in wanted:
                yield int(e), None if wk is None else bytes(wk)

    def epoch_keys(self, identity: pyrage.x25519.Identity) -> EpochKeys:
        """Unwraps epoch data keys with the identity (client side only)."""
        return EpochKeys(self._conn, identity)

    # ------------------------------------------------------------------ media
    def media(self, first_seq: int = 1, last_seq: int | None = None,
              state: str | None = None) -> Iterator[StoredMedia]:
        hi = 2**63 - 1 if last_seq is None else last_seq
        sql = "SELECT seq, sha256, size, state FROM media WHERE seq BETWEEN ? AND ?"
        params: tuple[object, ...] = (first_seq, hi)
        if state is not None:
            sql, params = sql + " AND state = ?", (*params, state)
        for seq, sha, size, st in self._conn.execute(sql + " ORDER BY seq, sha256", params):
            yield StoredMedia(int(seq), str(sha), int(size), str(st))

    def removed_media(self) -> Iterator[tuple[StoredMedia, str, float]]:
        """Media rows no longer stored (shed, expired), with their record's retention
        class (retention_class.py) and time."""
        for seq, sha, size, st, kind, severity, t_wall in self._conn.execute(
                "SELECT m.seq, m.sha256, m.size, m.state, r.kind, r.severity, r.t_wall "
                "FROM media m JOIN records r ON r.seq = m.seq WHERE m.state != 'stored' "
                "ORDER BY m.seq, m.sha256"):
            yield (StoredMedia(int(seq), str(sha), int(size), str(st)),
                   class_of(str(kind), str(severity)), float(t_wall))

    def integrity(self) -> str:
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@dataclass(frozen=True)
class StoreTotals:
    records: int
    sealed: int
    seals: int


def store_totals(database_path: Path) -> StoreTotals | None:
    """Records in the store and how many a seal covers: a quick look for status (None
    when the database cannot be read right now; status must not wait on the writer)."""
    try:
        conn = sqlite3.connect(f"file:{database_path}?mode=ro", uri=True, timeout=0.5)
        try:
            records = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()[0]
            sealed, seals = conn.execute(
                "SELECT COALESCE(MAX(last_seq), 0), COUNT(*) FROM seals").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return StoreTotals(int(records), int(sealed), int(seals))
