"""What a record says about the device's clock: boot id and whether time was synced.

A Pi has no RTC, so wall time may be wrong until NTP syncs. Each record therefore
carries the boot id (the kernel's random id of this boot) and a clock_synced flag.
The flag comes from the kernel itself: adjtimex(2) with modes=0 reads the NTP state
without changing it; the clock is synced when the call does not return TIME_ERROR and
STA_UNSYNC is clear (what systemd-timesyncd and chrony maintain). Where adjtimex is
unavailable, /run/systemd/timesync/synchronized (created by timesyncd) is the fallback.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import uuid
from pathlib import Path

TIME_ERROR = 5
STA_UNSYNC = 0x0040
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")
_PROCESS_ID = f"process-{uuid.uuid4()}"


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>: only the leading fields are read; the tail is
    # padding large enough for every libc layout.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("_rest", ctypes.c_byte * 256),
    ]


def synced_from_timex(state: int, status: int) -> bool:
    """Pure rule: the kernel reports a synchronised clock."""
    return state != TIME_ERROR and not (status & STA_UNSYNC)


def clock_synced() -> bool:
    """Whether the kernel says the wall clock is NTP-synchronised (False when unknown)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        tx = _Timex()
        state = int(libc.adjtimex(ctypes.byref(tx)))
    except (OSError, AttributeError):
        return _TIMESYNC_FLAG.exists()
    if state < 0:
        return _TIMESYNC_FLAG.exists()
    return synced_from_timex(state, int(tx.status))


def boot_id() -> str:
    """The kernel's boot id; without /proc a random id for this process, marked as such."""
    try:
        return _BOOT_ID.read_text(encoding="ascii").strip()
    except OSError:
        return _PROCESS_ID
