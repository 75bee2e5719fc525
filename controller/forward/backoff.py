"""Reconnect delays: exponential from `low` to `high`, reset after a success (pure)."""

from __future__ import annotations


class Backoff:
    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high
        self._next = low

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self.high, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self.low
