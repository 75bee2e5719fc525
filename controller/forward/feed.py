"""The forwarder's side of the control socket: a thin adapter over the asyncio client
with dict payloads (so a typed control schema can replace it later in one place)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.control.client import AsyncControlClient, CommandFailed, ControlError


@dataclass(frozen=True)
class Notification:
    kind: str
    seq: int
    data: Any


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
        return [Notification(e.event, e.seq, e.data) for e in batch]

    async def command(self, cmd: str, args: dict[str, Any]) -> tuple[bool, str]:
        """Run an operator command (alarms.ack, alarms.shelve): (ok, reason)."""
        try:
            await self._client.call(cmd, args)
        except CommandFailed as exc:
            return False, str(exc) or exc.code
        except ControlError as exc:
            return False, str(exc)
        return True, ""
