"""Crypto-shredding: a closed epoch whose every body has expired loses its data key.

The wrapped key is set to NULL (`shredded_at` recorded) and the epoch's header rows and
media rows are deleted; its seals stay, authenticated and chained, and carry the chain
hash across the gap, so `verify` still checks the whole chain (chain_check.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

Transaction = Callable[[Callable[[sqlite3.Connection], Any]], Any]


def shred_epochs(conn: sqlite3.Connection, current_epoch: int, now: float,
                 transaction: Transaction,
                 before: Callable[[int], None] | None = None) -> list[int]:
    """Shred every closed epoch before `current_epoch` with no body left; returns them.

    `before(epoch)` runs before each shred: the writer makes the epoch's tombstone
    (tombstone.py) durable there."""
    c = conn
    shredded: list[int] = []
    candidates = c.execute(
        "SELECT e.epoch FROM epochs e WHERE e.shredded_at IS NULL AND e.epoch < ? AND "
        "EXISTS (SELECT 1 FROM seals s WHERE s.epoch = e.epoch AND s.kind = 'end') "
        "ORDER BY e.epoch", (current_epoch,)
    ).fetchall()
    for (epoch,) in candidates:
        lo_row = c.execute("SELECT MAX(last_seq) FROM seals WHERE epoch < ?", (epoch,))
        lo = (lo_row.fetchone()[0] or 0) + 1
        hi = c.execute("SELECT MAX(last_seq) FROM seals WHERE epoch = ?",
                       (epoch,)).fetchone()[0]
        left = c.execute("SELECT 1 FROM bodies WHERE seq BETWEEN ? AND ? LIMIT 1",
                         (lo, hi)).fetchone()
        if left is not None:
            continue

        def shred(c: sqlite3.Connection, epoch: int = epoch, lo: int = lo,
                  hi: int = hi) -> None:
            c.execute("UPDATE epochs SET wrapped_key = NULL, shredded_at = ? WHERE epoch = ?",
                      (now, epoch))
            c.execute("DELETE FROM records WHERE seq BETWEEN ? AND ?", (lo, hi))
            c.execute("DELETE FROM media WHERE seq BETWEEN ? AND ?", (lo, hi))

        if before is not None:
            before(int(epoch))
        transaction(shred)
        shredded.append(int(epoch))
    return shredded
