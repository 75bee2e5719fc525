"""Which media files to shed to stay within the media budget (pure policy).

``store.media_budget_mb`` caps all media on the card, a camera's ``media_budget_mb`` its
own share. The oldest files go first; a file shared by several records (a segment that
events point into) counts once, for the camera that recorded it. Alarms and audit records
have no media and are never shed by a budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class MediaFile:
    sha256: str
    t_wall: float  # when it was first named by a record
    size: int
    source: str  # the source (camera) of the record that first named it


def plan_shedding(files: Sequence[MediaFile], total_budget: int,
                  source_budgets: Mapping[str, int]) -> list[MediaFile]:
    """Files to shed, oldest first; ``files`` oldest first, budgets in bytes (0 = none)."""
    shed: dict[str, MediaFile] = {}
    per_source: dict[str, int] = {}
    for f in files:
        per_source[f.source] = per_source.get(f.source, 0) + f.size
    for source, budget in source_budgets.items():
        over = per_source.get(source, 0) - budget
        if budget <= 0 or over <= 0:
            continue
        for f in files:
            if over <= 0:
                break
            if f.source == source and f.sha256 not in shed:
                shed[f.sha256] = f
                over -= f.size
    if total_budget > 0:
        over = sum(f.size for f in files) - sum(f.size for f in shed.values()) - total_budget
        for f in files:
            if over <= 0:
                break
            if f.sha256 not in shed:
                shed[f.sha256] = f
                over -= f.size
    return sorted(shed.values(), key=lambda f: (f.t_wall, f.sha256))


def days_held(budget: int, bytes_per_s: float) -> float | None:
    """Days of footage the budget holds at the current rate (None when nothing is written
    or there is no budget)."""
    if budget <= 0 or bytes_per_s <= 0:
        return None
    return budget / bytes_per_s / 86400.0
