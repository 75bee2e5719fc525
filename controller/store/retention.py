"""Retention per record class: expired records lose their ciphertext and media files.

A class is a kind, or a kind split by its plaintext severity (retention_class.py: plate
reads of vehicles on no list are `plate_unlisted`). `cutoffs` is pure (which records have
expired at a given time); `expire` applies it in
the writer thread: the row in `bodies` is deleted (secure_delete), media files are
deleted (state `expired`), and header, prev_hash and body_hash stay so the chain still
verifies. `remove_orphans` deletes media files no stored record names.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.store import media
from controller.store.layout import StoreLayout
from controller.store.retention_class import class_days, members
from controller.store.shedding import delete_media_file

DAY_S = 86_400.0
Transaction = Callable[[Callable[[sqlite3.Connection], Any]], Any]


def cutoffs(now: float, retention_days: Mapping[str, float]) -> dict[str, float]:
    """Per class, the wall time before which records have expired (not listed: never)."""
    return {cls: now - days * DAY_S for cls, days in class_days(retention_days).items()
            if days > 0}


def _members_params(cls: str) -> tuple[str, str | None, str | None, str]:
    """The parameters of a class's condition on `records r` in the queries below: its
    kind, the severity it needs (NULL: any), and none of the severities of the kind's
    split classes (a JSON list)."""
    kind, severity, not_severities = members(cls)
    return kind, severity, severity, json.dumps(list(not_severities))


@dataclass(frozen=True)
class Expired:
    per_class: dict[str, int]  # records expired per retention class
    media_deleted: int


def expire(conn: sqlite3.Connection, layout: StoreLayout, now: float,
           retention_days: Mapping[str, float], transaction: Transaction,
           before: Callable[[str, float, int], None] | None = None) -> Expired:
    """Drop the bodies and media files of every record past its class's retention.

    `before(cls, cutoff, count)` runs before anything of a class goes: the writer makes
    its tombstone (tombstone.py) durable there, so no removal is ever unexplained."""
    c = conn
    expired: dict[str, int] = {}
    media_deleted = 0
    for cls, cutoff in cutoffs(now, retention_days).items():
        params = _members_params(cls)
        seqs = [r[0] for r in c.execute(
            "SELECT b.seq FROM bodies b JOIN records r ON r.seq = b.seq "
            "WHERE r.kind = ? AND (? IS NULL OR r.severity = ?) "
            "AND r.severity NOT IN (SELECT value FROM json_each(?)) AND r.t_wall < ?",
            (*params, cutoff)
        )]
        if not seqs:
            continue
        files = c.execute(
            "SELECT seq, sha256 FROM media WHERE state = 'stored' AND seq IN "
            "(SELECT r.seq FROM records r WHERE r.kind = ? AND (? IS NULL OR r.severity = ?) "
            "AND r.severity NOT IN (SELECT value FROM json_each(?)) AND r.t_wall < ?)",
            (*params, cutoff)
        ).fetchall()
        if before is not None:
            before(cls, cutoff, len(seqs))
        expiring = {(int(seq), str(sha)) for seq, sha in files}
        for sha in {sha for _, sha in expiring}:
            # a segment still named by a record that stays (an event) keeps its file
            others = c.execute("SELECT seq FROM media WHERE sha256 = ? AND state = 'stored'",
                               (sha,)).fetchall()
            if all((int(o), sha) in expiring for (o,) in others):
                delete_media_file(layout, sha)
                media_deleted += 1

        def drop(c: sqlite3.Connection, seqs: list[int] = seqs,
                 files: list[Any] = files) -> None:
            c.executemany("DELETE FROM bodies WHERE seq = ?", [(s,) for s in seqs])
            c.executemany("UPDATE media SET state = 'expired' WHERE seq = ? AND sha256 = ?",
                          files)

        transaction(drop)
        expired[cls] = len(seqs)
    return Expired(expired, media_deleted)


def remove_orphans(conn: sqlite3.Connection, layout: StoreLayout,
                   grace_s: float) -> tuple[int, int]:
    """Delete media files no stored record names, older than `grace_s` (a file being
    written now has its record in flight); returns (files, bytes) removed."""
    referenced = {r[0] for r in conn.execute(
        "SELECT sha256 FROM media WHERE state = 'stored'")}
    cutoff = time.time() - grace_s
    count = size = 0
    for path in media.orphans(layout, referenced):
        try:
            st = path.stat()
            if st.st_mtime > cutoff:
                continue
            path.unlink()
        except OSError:
            continue
        count += 1
        size += st.st_size
    return count, size
