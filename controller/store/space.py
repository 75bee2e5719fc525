"""What to do when the disk fills up (pure policy; the writer measures and acts).

Free space counts the file system's free bytes plus the free pages inside the database
(which new records reuse), the writer's reserve file included. Below reserve + margin
the store sheds media files first, then the ciphertexts of the oldest readings; below the
reserve, or while part of the reserve file has been given back, only alarm and audit
records are still written. Every shed is reported so the writer can record it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpacePlan:
    shed_media: bool
    shed_readings: bool
    accept_unprotected: bool


def plan_space(
    fs_free: int, db_free: int, reserved: int, margin: int, media_left: bool,
    *, reserve_intact: bool = True, floor: int = 0,
) -> SpacePlan:
    """The actions for the measured free space (bytes); `floor` is kept free beyond the
    reserve for the unprotected records' own writes (their WAL frames)."""
    available = fs_free + db_free
    low = available < reserved + margin
    return SpacePlan(
        shed_media=low and media_left,
        shed_readings=low and not media_left,
        accept_unprotected=available >= reserved + floor and reserve_intact,
    )


def media_fits(fs_free: int, size: int, reserved: int, margin: int) -> bool:
    """A new media file may only use space above the reserve and the shedding margin."""
    return fs_free - size >= reserved + margin
