"""The TUI's adapter over controller.control's asyncio client of the control socket.

`AsyncControlClient` speaks the protocol (ids, responses, the event queue); this adapter
gives the app the three things it needs: `call` with two exception types (refused vs.
service away), events delivered to a callback as the protocol's `Event` (kind, stream
sequence, drop count and the payload the shared schema decodes), and `wait_closed` so
the connection worker knows when to reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from controller.control.client import (
    AsyncControlClient,
    CommandFailed,
    ControlError,
    ServiceUnavailable,
)
from controller.control.protocol import Event

__all__ = ["Event", "EventHandler", "ServiceClient", "ServiceError", "ServiceUnavailable"]


class ServiceError(Exception):
    """The service answered ``ok: false``; ``str()`` is its one-line reason."""


EventHandler = Callable[[Event], None]


class ServiceClient:
    """One connection to the control socket."""

    def __init__(self, path: Path | str, on_event: EventHandler | None = None) -> None:
        self.path = Path(path)
        self._on_event = on_event
        self._client: AsyncControlClient | None = None
        self._pump: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

    async def connect(self, timeout: float = 3.0) -> None:
        try:
            self._client = await asyncio.wait_for(AsyncControlClient.connect(self.path),
                                                  timeout)
        except ControlError as exc:
            raise ServiceUnavailable(str(exc)) from None
        except TimeoutError:
            raise ServiceUnavailable(f"{self.path}: no answer within {timeout:g} s") from None
        self._closed.clear()
        self._pump = asyncio.create_task(self._pump_events(self._client))

    async def call(
        self, cmd: str, args: Mapping[str, Any] | None = None, timeout: float = 30.0
    ) -> Any:
        """Send one request and return its ``result``; raises ServiceError/Unavailable."""
        if self._client is None or self._closed.is_set():
            raise ServiceUnavailable(f"{self.path}: not connected")
        try:
            return await self._client.call(cmd, dict(args or {}), timeout=timeout)
        except CommandFailed as exc:
            raise ServiceError(str(exc) or exc.code) from None
        except ControlError as exc:
            raise ServiceUnavailable(str(exc)) from None

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        self._closed.set()

    async def _pump_events(self, client: AsyncControlClient) -> None:
        try:
            async for event in client.events():
                if self._on_event is not None:
                    self._on_event(event)
        finally:
            self._closed.set()
