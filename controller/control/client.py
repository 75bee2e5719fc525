"""Clients of the control socket: blocking (CLI) and asyncio (TUI).

Both send requests with increasing ids, match responses by id, and keep subscription
events that arrive in between for :meth:`events`. A refusal or handler error becomes
:class:`CommandFailed` (with the server's code and reason); a missing or dead service
becomes :class:`ServiceUnavailable` with a message that says what to check.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeVar

from controller.control.protocol import (
    Event,
    ProtocolError,
    Response,
    encode_request,
    parse_server_message,
)
from controller.errors import EdgewardenError

T = TypeVar("T")

MAX_LINE_BYTES = 64 * 1024 * 1024  # history.fetch results can be large



def resume_args(after: int, stream: str | None, events: list[str] | None) -> dict[str, Any]:
    """The `subscribe` arguments that resume after `after` of `stream` (both clients)."""
    args: dict[str, Any] = {"after": after}
    if stream is not None:
        args["stream"] = stream
    if events:
        args["events"] = events
    return args

class ControlError(EdgewardenError):
    """Any failure talking to the service."""


def _bad_message(exc: ProtocolError) -> str:
    """A version mismatch says so plainly; anything else is a bad message."""
    if exc.code == "unsupported_version":
        return str(exc)
    return f"bad message from the service: {exc}"


class ServiceUnavailable(ControlError):
    """No service behind the socket (not running, or no permission to reach it)."""


class CommandFailed(ControlError):
    """The service answered ``ok: false``; `code` says why (refused, invalid, ...)."""

    def __init__(self, cmd: str, code: str, reason: str) -> None:
        super().__init__(reason)
        self.cmd = cmd
        self.code = code


def _unavailable(path: Path, exc: OSError) -> ServiceUnavailable:
    if isinstance(exc, FileNotFoundError):
        return ServiceUnavailable(
            f"service not running: no control socket at {path} (systemctl status edgewarden)")
    if isinstance(exc, ConnectionRefusedError):
        return ServiceUnavailable(
            f"service not running: nothing listens on {path} (systemctl status edgewarden)")
    if isinstance(exc, PermissionError):
        return ServiceUnavailable(
            f"permission denied on {path}: your user must be in the socket's group "
            f"(see `edgewarden doctor`)")
    return ServiceUnavailable(f"cannot reach the service at {path}: {exc.strerror or exc}")


class ControlClient:
    """A blocking client; use as a context manager."""

    def __init__(self, path: Path, timeout: float | None = 10.0) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = bytearray()
        self._ids = itertools.count(1)
        self._events: collections.deque[Event] = collections.deque()

    def connect(self) -> ControlClient:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock.settimeout(self.timeout)
        try:
            sock.connect(os.fsencode(self.path))
        except OSError as exc:
            sock.close()
            raise _unavailable(self.path, exc) from None
        self._sock = sock
        return self

    def __enter__(self) -> ControlClient:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _read_line(self, timeout: float | None) -> bytes:
        """One line from our own buffer (a socket file object breaks after a timeout)."""
        assert self._sock is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return line
            if len(self._buffer) > MAX_LINE_BYTES:
                raise ControlError("message from the service too large")
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                raise
            except OSError as exc:
                raise ControlError(f"connection to {self.path} failed: {exc}") from None
            if not chunk:
                raise ServiceUnavailable(f"the service closed the connection on {self.path}")
            self._buffer.extend(chunk)

    def _read_message(self, timeout: float | None) -> Response | Event:
        if self._sock is None:
            raise ControlError("not connected")
        line = self._read_line(timeout)
        try:
            return parse_server_message(line)
        except ProtocolError as exc:
            raise ControlError(_bad_message(exc)) from None

    def _raise_refusal(self, cmd: str) -> None:
        """A refusal the server sent before it hung up (`busy`), raised as such.

        A server with no free slot answers and closes at once, so the request's write
        can fail before the answer is read; the answer still waits in the socket."""
        try:
            msg = self._read_message(0.2)
        except (OSError, ControlError):
            return
        if isinstance(msg, Response) and msg.id is None and not msg.ok:
            raise CommandFailed(cmd, msg.code or "failed", msg.error or "")

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        """Send one command and wait for its result; raises :class:`CommandFailed`."""
        if self._sock is None:
            raise ControlError("not connected")
        request_id = next(self._ids)
        try:
            self._sock.sendall(encode_request(request_id, cmd, args))
        except OSError as exc:
            self._raise_refusal(cmd)
            raise ServiceUnavailable(f"the service went away on {self.path}: {exc}") from None
        while True:
            try:
                msg = self._read_message(self.timeout)
            except TimeoutError:
                raise ControlError(f"{cmd}: no answer from the service within "
                                   f"{self.timeout:g} s") from None
            if isinstance(msg, Event):
                self._events.append(msg)
                continue
            if msg.id is None and not msg.ok:
                raise CommandFailed(cmd, msg.code or "failed", msg.error or "")
            if msg.id != request_id:
                continue  # a late answer to an earlier, timed-out request
            if not msg.ok:
                raise CommandFailed(cmd, msg.code or "failed", msg.error or "")
            return msg.result

    def ask(self, cmd: str, kind: type[T], args: dict[str, Any] | None = None) -> T:
        """`call`, the result decoded as the schema's `kind` (:class:`ReplyMismatch`)."""
        from controller.control.schema import decode_reply  # msgspec only when asked

        return decode_reply(cmd, self.call(cmd, args), kind)

    def subscribe(self, events: list[str] | None = None) -> Any:
        return self.call("subscribe", {"events": events} if events else {})

    def subscribe_from(self, after: int, stream: str | None,
                       events: list[str] | None = None) -> Any:
        """Subscribe resuming after sequence `after` of `stream` (see the server)."""
        return self.call("subscribe", resume_args(after, stream, events))

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Yield subscription events; stops after `timeout` seconds without one."""
        while True:
            while self._events:
                yield self._events.popleft()
            try:
                msg = self._read_message(timeout)
            except TimeoutError:
                return
            if isinstance(msg, Event):
                yield msg


class AsyncControlClient:
    """An asyncio client: one reader task routes responses to waiting calls and events
    to :meth:`events`. Create with ``await AsyncControlClient.connect(path)``."""

    def __init__(self, path: Path, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, event_queue_size: int) -> None:
        self.path = path
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._events: asyncio.Queue[Event | None] = asyncio.Queue(event_queue_size)
        self.events_dropped = 0  # client-side drops when the UI does not keep up
        self._closed_error: ControlError | None = None
        self._task = asyncio.create_task(self._read_loop())

    @classmethod
    async def connect(cls, path: Path, event_queue_size: int = 1024) -> AsyncControlClient:
        try:
            reader, writer = await asyncio.open_unix_connection(
                str(path), limit=MAX_LINE_BYTES)
        except OSError as exc:
            raise _unavailable(path, exc) from None
        return cls(path, reader, writer, event_queue_size)

    async def __aenter__(self) -> AsyncControlClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def call(self, cmd: str, args: dict[str, Any] | None = None,
                   timeout: float | None = 10.0) -> Any:
        if self._closed_error is not None:
            raise self._closed_error
        request_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (cmd, fut)
        try:
            self._writer.write(encode_request(request_id, cmd, args))
            await self._writer.drain()
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise ControlError(f"{cmd}: no answer from the service within {timeout:g} s") \
                from None
        except ConnectionError as exc:
            raise ServiceUnavailable(f"the service went away on {self.path}: {exc}") from None
        finally:
            self._pending.pop(request_id, None)

    async def ask(self, cmd: str, kind: type[T], args: dict[str, Any] | None = None,
                  timeout: float | None = 10.0) -> T:
        """`call`, the result decoded as the schema's `kind` (:class:`ReplyMismatch`)."""
        from controller.control.schema import decode_reply  # msgspec only when asked

        return decode_reply(cmd, await self.call(cmd, args, timeout), kind)

    async def subscribe(self, events: list[str] | None = None) -> Any:
        return await self.call("subscribe", {"events": events} if events else {})

    async def subscribe_from(self, after: int, stream: str | None,
                             events: list[str] | None = None) -> Any:
        """Subscribe resuming after sequence `after` of `stream` (see the server)."""
        return await self.call("subscribe", resume_args(after, stream, events))

    async def events(self) -> AsyncIterator[Event]:
        """Subscription events until the connection ends."""
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    def pending_events(self, limit: int) -> list[Event]:
        """Up to `limit` events already received, without waiting (to batch their work)."""
        out: list[Event] = []
        while len(out) < limit:
            try:
                event = self._events.get_nowait()
            except asyncio.QueueEmpty:
                break
            if event is None:  # the end: keep it for events()
                self._events.put_nowait(None)
                break
            out.append(event)
        return out

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()

    async def _read_loop(self) -> None:
        error: ControlError = ServiceUnavailable(
            f"the service closed the connection on {self.path}")
        try:
            while True:
                try:
                    line = await self._reader.readuntil(b"\n")
                except asyncio.IncompleteReadError:
                    break
                except asyncio.LimitOverrunError:
                    error = ControlError("message from the service too large")
                    break
                try:
                    msg = parse_server_message(line)
                except ProtocolError as exc:
                    error = ControlError(_bad_message(exc))
                    break
                if isinstance(msg, Event):
                    try:
                        self._events.put_nowait(msg)
                    except asyncio.QueueFull:
                        self.events_dropped += 1
                    continue
                self._resolve(msg)
        except ConnectionError as exc:
            error = ServiceUnavailable(f"connection to {self.path} lost: {exc}")
        finally:
            self._closed_error = error
            for _cmd, fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(error)
            with contextlib.suppress(asyncio.QueueFull):
                self._events.put_nowait(None)

    def _resolve(self, msg: Response) -> None:
        if msg.id is None:
            # an error about a line the server could not read: fail every waiting call
            for cmd, fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(CommandFailed(cmd, msg.code or "failed", msg.error or ""))
            return
        entry = self._pending.get(msg.id)
        if entry is None or entry[1].done():
            return
        cmd, fut = entry
        if msg.ok:
            fut.set_result(msg.result)
        else:
            fut.set_exception(CommandFailed(cmd, msg.code or "failed", msg.error or ""))
