"""What the app knows about its link to the service, and how long to wait between tries."""

from __future__ import annotations

from dataclasses import dataclass

CONNECTING = "connecting"
CONNECTED = "connected"
AWAY = "away"


@dataclass(frozen=True)
class ConnectionInfo:
    state: str = CONNECTING
    detail: str = ""
    attempts: int = 0


def retry_delay(attempt: int, first_s: float = 0.5, max_s: float = 5.0) -> float:
    """Backoff before reconnect attempt `attempt` (1-based): doubles up to `max_s`."""
    return min(max_s, first_s * (2 ** max(0, attempt - 1)))
