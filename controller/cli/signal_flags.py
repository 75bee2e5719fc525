"""Signals a foreground command's loop polls for, noted by handlers that take no lock.

A Python signal handler runs in the main thread between two of its bytecodes. One that calls
``threading.Event.set()`` deadlocks when that instant falls inside the main thread's own
``Event.wait()`` while it holds the Event's lock (CPython gh-126434): the command then ignores
SIGTERM for good. These handlers only bump a counter the handler alone writes; the loop
compares it with the count it has handled, which it alone writes.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterable
from types import FrameType

POLL_S = 0.05  # how soon a waiting loop sees a signal


class SignalFlags:
    """Counts of the given signals since :meth:`install`, and a wait that ends on one."""

    def __init__(self, signals: Iterable[signal.Signals]) -> None:
        self._seen = {s: 0 for s in signals}
        self._handled = dict.fromkeys(self._seen, 0)

    def install(self) -> SignalFlags:
        for sig in self._seen:
            signal.signal(sig, self._note)
        return self

    def seen(self, *signals: signal.Signals) -> bool:
        """Whether any of these signals (all of them when none are named) has arrived."""
        return any(self._seen[s] for s in signals or self._seen)

    def take(self, sig: signal.Signals) -> bool:
        """Whether `sig` arrived since the last take; each arrival is taken once."""
        if self._seen[sig] > self._handled[sig]:
            self._handled[sig] += 1
            return True
        return False

    def wait(self, timeout: float, *signals: signal.Signals) -> bool:
        """Sleep until one of `signals` (any, when none are named) is seen or `timeout` ends."""
        deadline = time.monotonic() + timeout
        while not self.seen(*signals):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(POLL_S, left))
        return True

    def _note(self, signum: int, _frame: FrameType | None) -> None:
        self._seen[signal.Signals(signum)] += 1
