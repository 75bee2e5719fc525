"""How much footage the card holds: media bytes per camera and days at the current rate.

``days_held`` answers the question a technician sizing a card asks: at the rate this camera
has written media since the service started, how many days does its budget (its own
``media_budget_mb``, else ``store.media_budget_mb`` shared at the cameras' combined rate,
else the free disk above the reserve plus what is already stored) keep?
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from controller.store.budget import MB, days_held


def media_bytes_by_source(database: Path) -> dict[str, int]:
    """Bytes of stored media per source, each file counted once (for the record that first
    named it: a segment for its camera's recording record, not again for each event)."""
    try:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0.5)
        try:
            rows = conn.execute(
                "SELECT r.source, SUM(f.size) FROM (SELECT MIN(seq) AS seq, MAX(size) AS size "
                "FROM media WHERE state = 'stored' GROUP BY sha256) f "
                "JOIN records r ON r.seq = f.seq GROUP BY r.source"
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return {}
    return {str(source): int(size) for source, size in rows if source is not None}


@dataclass(frozen=True)
class Footage:
    stored_bytes: int
    bytes_per_hour: float
    budget_bytes: int
    budget_from: str  # "camera", "store" or "disk"
    days_held: float | None


def footage(stored: int, written: int, seconds: float, camera_budget_mb: float,
            store_budget_mb: float, all_written: int, all_stored: int,
            free_above_reserve: int) -> Footage:
    """One camera's figures (pure); ``written``/``all_written`` since ``seconds`` ago."""
    rate = written / seconds if seconds > 0 else 0.0
    if camera_budget_mb > 0:
        budget = int(camera_budget_mb * MB)
        return Footage(stored, rate * 3600, budget, "camera", days_held(budget, rate))
    all_rate = all_written / seconds if seconds > 0 else 0.0
    if store_budget_mb > 0:
        budget = int(store_budget_mb * MB)
        return Footage(stored, rate * 3600, budget, "store", days_held(budget, all_rate))
    budget = max(0, free_above_reserve) + all_stored
    return Footage(stored, rate * 3600, budget, "disk", days_held(budget, all_rate))
