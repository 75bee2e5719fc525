"""Holds the unlocked identity for this TUI session and forgets it after idle time.

Sans-IO: the caller passes the time. Every unlock and lock is remembered (without any key
material) so the Keys screen can show the session's lock history.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.secret import Identity


@dataclass(frozen=True)
class LockEvent:
    time: float
    what: str  # "unlocked", "locked", "auto-locked after idle", "wrong passphrase"


class SessionKey:
    """The identity while unlocked; `expire(now)` locks it after `idle_s` without use."""

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self._identity: Identity | None = None
        self._last_use = 0.0
        self.log: list[LockEvent] = []

    def __repr__(self) -> str:
        return f"SessionKey(unlocked={self.unlocked})"

    @property
    def unlocked(self) -> bool:
        return self._identity is not None

    def unlock(self, identity: Identity, now: float) -> None:
        self._identity = identity
        self._last_use = now
        self.log.append(LockEvent(now, "unlocked"))

    def failed(self, now: float) -> None:
        self.log.append(LockEvent(now, "wrong passphrase"))

    def use(self, now: float) -> Identity | None:
        """The identity (and the idle timer restarts), or None when locked or expired."""
        if self.expire(now):
            return None
        self._last_use = now
        return self._identity

    def touch(self, now: float) -> None:
        """User activity: keeps an unlocked key alive."""
        if self._identity is not None and not self.expire(now):
            self._last_use = now

    def remaining(self, now: float) -> float:
        if self._identity is None:
            return 0.0
        return max(0.0, self.idle_s - (now - self._last_use))

    def expire(self, now: float) -> bool:
        """Lock if idle too long; True when that happened now."""
        if self._identity is not None and now - self._last_use >= self.idle_s:
            self._identity = None
            self.log.append(LockEvent(now, "auto-locked after idle"))
            return True
        return False

    def lock(self, now: float) -> None:
        if self._identity is not None:
            self._identity = None
            self.log.append(LockEvent(now, "locked"))
