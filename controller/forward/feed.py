"""The forwarder's side of the control socket: a thin adapter over the asyncio client.

Notifications arrive decoded by the shared schema (controller.control.schema); one of
another shape (a service of another release) keeps its place in the stream with the one
line that says why, so the forwarder publishes it as a gap instead of skipping it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.control.client import AsyncControlClient, CommandFailed, ControlError
from controller.control.schema import EventMismatch, Notice, decode_event


@dataclass(frozen=True)
class Notification:
    kind: str
    seq: int  # the stream's sequence number
    notice: Notice | None  # None: `mismatch` says why it could not be read
    mismatch: str | None = None

    @classmethod
    def of(cls, kind: str, seq: int, data: Any) -> Notification:
        try:
            return cls(kind, seq, decode_event(kind, data))
        except EventMismatch as exc:
            return cls(kind, seq, None, str(exc))


@dataclass(frozen=True)
class Resumed:
    stream: str
    seq: int  # the service's latest sequence when it answered
    gap: int | None  # None: nothing to compare with (first start, or a service restart)


class ServiceFeed:
    def __init__(self, client: AsyncControlClient) -> None:
        self._client = client

    @classmethod
    async def connect(cls, path: Path) -> ServiceFeed:
        return cls(await AsyncControlClient.connect(path, event_queue_size=8192))

    async def close(self) -> None:
        await self._client.close()

    async def resume(self, stream: str | None, after: int) -> Resumed:
        answer = await self._client.subscribe_from(after, stream)
        return Resumed(str(answer["stream"]), int(answer["seq"]), answer.get("gap"))

    async def status(self) -> dict[str, Any]:
        result = await self._client.call("status")
        return result if isinstance(result, dict) else {}

    async def next_batch(self, limit: int = 512) -> list[Notification] | None:
        """The next notifications (at least one), or None when the service went away."""
        batch = self._client.pending_events(limit)
        if not batch:
            async for event in self._client.events():
                batch = [event, *self._client.pending_events(limit - 1)]
                break
            else:
                return None
        return [Notification.of(e.event, e.seq, e.data) for e in batch]

    async def command(self, cmd: str, args: dict[str, Any]) -> tuple[bool, str]:
        """Run an operator command (alarms.ack, alarms.shelve): (ok, reason)."""
        try:
            await self._client.call(cmd, args)
        except CommandFailed as exc:
            return False, str(exc) or exc.code
        except ControlError as exc:
            return False, str(exc)
        return True, ""
