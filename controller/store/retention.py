"""Retention per record kind (pure): which records have expired at a given time."""

from __future__ import annotations

from collections.abc import Mapping

DAY_S = 86_400.0


def cutoffs(now: float, retention_days: Mapping[str, float]) -> dict[str, float]:
    """Per kind, the wall time before which records have expired (kinds not listed: never)."""
    return {kind: now - days * DAY_S for kind, days in retention_days.items() if days > 0}
