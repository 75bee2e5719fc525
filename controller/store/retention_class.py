"""Retention classes: a record kind, or a kind split by its plaintext severity (pure).

Retention and `verify` see only plaintext headers (they cannot decrypt), so the class of
a record must be readable there without saying what the record holds. A plate read of a
vehicle on no list carries the severity `unlisted` and is the class `plate_unlisted`
(kept `retention_days.plate_unlisted`, a shorter figure); every other plate read is the
class `plate`. The severity says only listed or not, never the plate. A split class that
`retention_days` does not list follows its kind's figure.
"""

from __future__ import annotations

from collections.abc import Mapping

#: the severity of a plate read of a vehicle on no list (allow hits are "info", watch
#: and deny hits "warning")
UNLISTED = "unlisted"
#: split class -> (its kind, the severity that puts a record of the kind in it)
SPLITS: dict[str, tuple[str, str]] = {"plate_unlisted": ("plate", UNLISTED)}
_BY_HEADER = {header: cls for cls, header in SPLITS.items()}


def class_of(kind: str, severity: str) -> str:
    """The retention class of a record with this plaintext kind and severity."""
    return _BY_HEADER.get((kind, severity), kind)


def days_of(retention_days: Mapping[str, float], cls: str) -> float:
    """Days a class is kept (0: forever); a split class not listed follows its kind."""
    if cls in retention_days:
        return float(retention_days[cls] or 0)
    split = SPLITS.get(cls)
    return float(retention_days.get(split[0], 0) or 0) if split else 0.0


def class_days(retention_days: Mapping[str, float]) -> dict[str, float]:
    """Every class retention applies to, with its days (split classes filled in)."""
    out = {str(cls): float(days or 0) for cls, days in retention_days.items()}
    for cls, (kind, _) in SPLITS.items():
        if cls not in out and kind in out:
            out[cls] = out[kind]
    return out


def members(cls: str) -> tuple[str, str | None, tuple[str, ...]]:
    """Which headers a class holds: (kind, the severity they must have or None, the
    severities they must not have: those of the kind's split classes)."""
    split = SPLITS.get(cls)
    if split is not None:
        return split[0], split[1], ()
    return cls, None, tuple(sev for kind, sev in SPLITS.values() if kind == cls)
