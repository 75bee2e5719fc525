"""The forwarder's on-disk outbox: every message is fsynced before it is acknowledged
upstream, delivered in order, and deleted only after the broker has it (QoS 1 PUBACK).

SQLite in WAL mode with ``synchronous=FULL`` in the forwarder's own state directory
(0700, file 0600). The stored position in the service's stream (``stream``, ``seq``)
commits in the same transaction as the messages, so after a crash the forwarder resumes
exactly after what it holds; so does the newest store record whose messages it took
(``record``), so a notice naming a record already taken is never stored twice.
Bounded: when full, readings are shed first, then states,
then events; alarms never (an alarm is stored past the bound and counted). A newer
retained reading replaces an undelivered older one of the same topic.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from controller.forward.translate import SHED_ORDER, MessageClass, Outgoing

_RANK: dict[MessageClass, int] = {"reading": 0, "state": 1, "event": 2, "alarm": 3}


@dataclass(frozen=True)
class Stored:
    n: int
    message: Outgoing


@dataclass
class OutboxStats:
    shed: int = 0  # older messages removed to make room
    refused: int = 0  # new messages not stored: full of more important ones
    over_bound: int = 0  # alarms stored although the outbox was full


class Outbox:
    def __init__(self, path: Path, max_messages: int) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.path = path
        self.max_messages = max_messages
        self.stats = OutboxStats()
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript("""
            CREATE TABLE IF NOT EXISTS outbox (
                n INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,
                payload BLOB NOT NULL, retain INTEGER NOT NULL, klass TEXT NOT NULL,
                msg_id TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS outbox_klass ON outbox (klass, n);
            CREATE TABLE IF NOT EXISTS announced (topic TEXT PRIMARY KEY);
            CREATE TABLE IF NOT EXISTS points (alarm TEXT PRIMARY KEY);
            CREATE TABLE IF NOT EXISTS cursor (
                one INTEGER PRIMARY KEY CHECK (one = 1), stream TEXT, seq INTEGER NOT NULL,
                record INTEGER NOT NULL DEFAULT 0);
        """)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(cursor)")}
        if "record" not in columns:  # an outbox of an earlier release
            self._db.execute("ALTER TABLE cursor ADD COLUMN record INTEGER NOT NULL DEFAULT 0")
        self._count = self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        return self._count

    def cursor(self) -> tuple[str | None, int]:
        """The last (stream, seq) of the service whose messages are stored."""
        row = self._db.execute("SELECT stream, seq FROM cursor").fetchone()
        return (row[0], row[1]) if row else (None, 0)

    def last_record(self) -> int:
        """The newest store record (sequence number) whose messages are held or were sent:
        a notice naming one at or below it is a duplicate."""
        row = self._db.execute("SELECT record FROM cursor").fetchone()
        return int(row[0]) if row else 0

    def put(self, messages: Sequence[Outgoing], stream: str | None, seq: int,
            record: int = 0) -> None:
        """Store `messages` and move the cursor to (stream, seq) and the newest record
        to `record`, durably, in one go."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for m in messages:
                if m.klass == "reading" and m.retain:
                    cur = db.execute("DELETE FROM outbox WHERE topic = ? AND klass = 'reading'",
                                     (m.topic,))
                    self._count -= cur.rowcount
                if self._count >= self.max_messages and not self._make_room(m.klass):
                    if m.klass != "alarm":
                        self.stats.refused += 1
                        continue
                    self.stats.over_bound += 1
                db.execute("INSERT INTO outbox (topic, payload, retain, klass, msg_id) "
                           "VALUES (?, ?, ?, ?, ?)",
                           (m.topic, m.payload, int(m.retain), m.klass, m.msg_id))
                self._count += 1
            db.execute("INSERT INTO cursor (one, stream, seq, record) VALUES (1, ?, ?, ?) "
                       "ON CONFLICT (one) DO UPDATE SET stream = excluded.stream, "
                       "seq = excluded.seq, record = excluded.record", (stream, seq, record))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _make_room(self, klass: MessageClass) -> bool:
        for victim in SHED_ORDER:
            if _RANK[victim] > _RANK[klass]:
                return False
            row = self._db.execute("SELECT n FROM outbox WHERE klass = ? ORDER BY n LIMIT 1",
                                   (victim,)).fetchone()
            if row is not None:
                self._db.execute("DELETE FROM outbox WHERE n = ?", (row[0],))
                self._count -= 1
                self.stats.shed += 1
                return True
        return False

    def announced(self) -> set[str]:
        """Home Assistant config topics announced so far (to remove the gone ones)."""
        return {row[0] for row in self._db.execute("SELECT topic FROM announced")}

    def set_announced(self, topics: set[str]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM announced")
        db.executemany("INSERT INTO announced (topic) VALUES (?)", [(t,) for t in topics])
        db.execute("COMMIT")

    def alarm_points(self) -> set[str]:
        """Alarm points whose state was ever published (retained on the broker)."""
        return {row[0] for row in self._db.execute("SELECT alarm FROM points")}

    def add_alarm_points(self, alarms: set[str]) -> None:
        self._db.executemany("INSERT OR IGNORE INTO points (alarm) VALUES (?)",
                             [(a,) for a in alarms])

    def peek(self, limit: int, after: int = 0) -> list[Stored]:
        """The oldest `limit` messages numbered above `after`, in order."""
        rows = self._db.execute(
            "SELECT n, topic, payload, retain, klass, msg_id FROM outbox WHERE n > ? "
            "ORDER BY n LIMIT ?", (after, limit)).fetchall()
        return [Stored(n, Outgoing(topic, bytes(payload), bool(retain), klass, msg_id))
                for n, topic, payload, retain, klass, msg_id in rows]

    def delivered(self, up_to: int) -> None:
        """The broker has every message up to number `up_to`.

        Not fsynced on its own (the next stored batch syncs it): losing a deletion in a
        power cut only sends those messages again, with the same ids."""
        self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            cur = self._db.execute("DELETE FROM outbox WHERE n <= ?", (up_to,))
            self._count -= cur.rowcount
        finally:
            self._db.execute("PRAGMA synchronous=FULL")
