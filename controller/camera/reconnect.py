"""Reopen a failed or vanished camera with exponential backoff, and say when it is down.

The wrapper never raises for a camera failure (a backend's own exception, say a folder
that vanished, counts as one too): ``read()`` returns None while the camera is down, and
the service polls ``status`` (or gets ``on_change`` calls) to raise and clear its
"camera down" alarm.
"""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, replace

from controller.camera.frame import Frame
from controller.camera.source import CameraDown, CameraSource, open_source
from controller.config import CameraConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Delay before reopen attempt n (0-based): initial * factor**n, capped."""

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0

    def delay(self, failures: int) -> float:
        return float(min(self.max_s, self.initial_s * self.factor ** max(0, failures)))


@dataclass(frozen=True)
class CameraStatus:
    """What the health monitor and `status` show about one camera."""

    name: str
    down: bool = True
    down_since: float | None = None
    reason: str = "not opened yet"
    reopen_attempts: int = 0
    frames: int = 0
    dropped: int = 0


class ReconnectingCamera:
    """Wraps a :class:`CameraSource`; ``finished`` is set when a file ends."""

    def __init__(
        self,
        source: CameraSource,
        backoff: Backoff | None = None,
        clock: Callable[[], float] | None = None,
        on_change: Callable[[CameraStatus], None] | None = None,
    ) -> None:
        self.source = source
        self.backoff = backoff or Backoff()
        self._clock = clock or _time.monotonic
        self._on_change = on_change
        self._failures = 0
        self._next_attempt = 0.0
        self._is_open = False
        self.finished = False
        self._status = CameraStatus(name=source.name, down_since=None)

    @property
    def status(self) -> CameraStatus:
        return replace(self._status, dropped=self.source.dropped)

    def wait_hint(self) -> float:
        """Seconds until the next reopen attempt (0 when the camera is up)."""
        if self._is_open:
            return 0.0
        return max(0.0, self._next_attempt - self._clock())

    def read(self) -> Frame | None:
        if self.finished:
            return None
        now = self._clock()
        if not self._is_open:
            if now < self._next_attempt:
                return None
            try:
                self.source.open()
            except Exception as exc:  # every failure of a backend is a camera down
                self._failed(_reason(exc), now, attempted=True)
                return None
            self._is_open = True
            self._failures = 0
            self._set(down=False, down_since=None, reason="")
        try:
            frame = self.source.read()
        except Exception as exc:  # every failure of a backend is a camera down
            self.fail(_reason(exc))
            return None
        if frame is None:
            self.finished = True
            return None
        self._status = replace(self._status, frames=self._status.frames + 1)
        return frame

    def fail(self, reason: str) -> None:
        """The camera is down for `reason`: closed, and reopened after the backoff."""
        try:
            self.source.close()
        except Exception as exc:  # a backend that cannot even close is still just down
            log.warning("camera %s: close failed: %s", self.source.name, exc)
        self._is_open = False
        self._failed(reason, self._clock(), attempted=False)

    def close(self) -> None:
        self.source.close()
        self._is_open = False

    def _failed(self, reason: str, now: float, attempted: bool) -> None:
        delay = self.backoff.delay(self._failures)
        self._failures += 1
        self._next_attempt = now + delay
        attempts = self._status.reopen_attempts + (1 if attempted else 0)
        since = self._status.down_since if self._status.down_since is not None else now
        log.warning("camera %s down: %s (retry in %.1fs)", self.source.name, reason, delay)
        self._set(down=True, down_since=since, reason=reason, reopen_attempts=attempts)

    def _set(self, **changes: object) -> None:
        before = self._status.down
        self._status = replace(self._status, **changes)  # type: ignore[arg-type]
        if self._on_change is not None and (before != self._status.down or self._status.down):
            self._on_change(self.status)


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, CameraDown) else f"{type(exc).__name__}: {exc}"


def open_camera(
    config: CameraConfig,
    clock: Callable[[], float] | None = None,
    on_change: Callable[[CameraStatus], None] | None = None,
) -> ReconnectingCamera:
    """The configured camera's backend, wrapped to reopen with the configured backoff."""
    backoff = Backoff(config.reopen_backoff_initial_s, config.reopen_backoff_max_s)
    return ReconnectingCamera(open_source(config, clock), backoff, clock, on_change)
