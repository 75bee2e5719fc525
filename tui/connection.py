"""What the app knows about its link to the service, and how long to wait between tries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

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


@dataclass(frozen=True)
class Freshness:
    """Whether the status the screens show is live and, if not, since when it is not.

    `as_of` is the moment the service was last heard (the link dropped then); None while
    live, or when nothing was ever received from it.
    """

    live: bool
    as_of: float | None = None

    def label(self) -> str:
        """'as of 06:12:03 UTC', or 'not received yet'; empty while live."""
        if self.live:
            return ""
        if self.as_of is None:
            return "not received yet"
        return f"as of {datetime.fromtimestamp(self.as_of, UTC).strftime('%H:%M:%S')} UTC"

    def view_time(self, now: float) -> float:
        """The 'now' that ages are measured to: the clock while live, else frozen at `as_of`."""
        return now if self.live or self.as_of is None else self.as_of


LIVE = Freshness(live=True)
