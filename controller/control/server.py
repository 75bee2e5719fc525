"""The asyncio control server on a Unix stream socket (never TCP/UDP).

Per connection: the kernel's peer credentials give the caller, :class:`RoleResolver` its
role (once, at connect). Each request line is parsed, looked up in the command table,
checked against the caller's role and the argument spec, then handed to the injected
handler; every request ends in exactly one :class:`AuditEntry` passed to the audit
callback, whatever the outcome. Subscribers get events through a bounded queue per
connection: when a slow client lets it fill, new events are dropped and counted (the
count travels in every event and in :meth:`ControlServer.stats`), never blocking the
publisher.

Connections are bounded (`max_clients`), with `reserved_clients` of the slots kept for
ops and admin callers, so view or no-role users cannot lock out the people who act on
alarms; a caller without a role is disconnected after `no_role_idle_s` without a request.
Refusals (no role, role too low, malformed lines, busy) are audited through a
:class:`RefusalLimiter`: the first few per caller and interval one by one, the rest as one
summary per interval (audit command ``control.refusals``).
The server also keeps the last `backlog_size` events (any kind) numbered by one sequence
of its own, under a `stream` id chosen at start. A subscriber that passes ``after`` (the
last sequence it holds) and ``stream`` gets those sequence numbers as its events' `seq`,
the backlog's events after ``after`` first, and in the answer how many it missed for good
(``gap``; ``null`` when the stream is another one or none: the service restarted, or
this is the subscriber's first time, and then the whole backlog is sent).

The socket file is bound under a temporary name, given mode 0660 and the access group,
then renamed into place, so it never exists with looser permissions; the directory is
created 0750 when it does not exist (systemd's RuntimeDirectory normally makes it).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import grp
import logging
import os
import secrets
import socket
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from controller.config import Config
from controller.control.address import MAX_SOCKET_PATH_BYTES, socket_path
from controller.control.commands import (
    Call,
    Command,
    CommandError,
    ControlHandlers,
    audited_name,
    check_args,
    command_table,
)
from controller.control.protocol import (
    EVENT_KINDS,
    ErrorCode,
    ProtocolError,
    Request,
    encode_error,
    encode_event,
    encode_result,
    parse_request,
)
from controller.control.refusals import RefusalLimiter
from controller.control.roles import PeerCred, Role, RoleResolver, peer_credentials
from controller.control.schema import ControlQueue
from controller.errors import EdgewardenError

log = logging.getLogger(__name__)

Outcome = Literal["ok", "refused", "invalid", "failed", "error"]


@dataclass(frozen=True)
class AuditEntry:
    """One control request and how it ended; the service turns it into an audit record.

    `reason` is the text sent to the client on failure; arguments are never included
    (they may carry config or pairing material).
    """

    time: float
    uid: int
    gid: int
    pid: int
    role: str | None
    cmd: str
    outcome: Outcome
    reason: str | None = None
    about: dict[str, Any] = field(default_factory=dict)  # what the handler said (Call.audit)

    def summary(self) -> str:
        """One line for the audit log's detail: the reason of a failure, then what it was
        about ('alarm north-door/temperature:limits, comment checked')."""
        parts = [self.reason] if self.reason else []
        parts += [f"{key} {value}" for key, value in self.about.items()
                  if value not in (None, "")]
        return "; ".join(parts)


AuditSink = Callable[[AuditEntry], None]


@dataclass
class _Subscriber:
    kinds: frozenset[str]
    queue: asyncio.Queue[tuple[str, int, Any]]
    seq: int = 0
    dropped: int = 0
    resumable: bool = False  # events carry the server's backlog sequence as `seq`


@dataclass
class _Connection:
    peer: PeerCred
    role: Role | None
    writer: asyncio.StreamWriter
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    subscriber: _Subscriber | None = None
    pump: asyncio.Task[None] | None = None


#: How long a closing connection may take to flush what it still has to send.
CLOSE_WAIT_S = 2.0


class ControlServer:
    """Serves the command table on `path`; start with :meth:`start`, stop with :meth:`close`."""

    def __init__(
        self,
        path: Path,
        table: dict[str, Command],
        resolver: RoleResolver,
        audit: AuditSink,
        *,
        socket_group: str | None = None,
        max_clients: int = 16,
        queue_size: int = 256,
        max_request_bytes: int = 1_048_576,
        backlog_size: int = 0,
        clock: Callable[[], float] = time.time,
        reserved_clients: int = 4,
        no_role_idle_s: float = 1.0,
        refusals: RefusalLimiter | None = None,
    ) -> None:
        if max_clients < 1 or queue_size < 1 or max_request_bytes < 1024:
            raise ValueError("max_clients and queue_size must be >= 1, max_request_bytes >= 1024")
        if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES - 24:  # room for the temp name
            raise EdgewardenError(f"control socket path too long for AF_UNIX: {path}")
        self.path = path
        self.table = table
        self.resolver = resolver
        self.audit = audit
        self.socket_group = socket_group
        self.max_clients = max_clients
        self.queue_size = queue_size
        self.max_request_bytes = max_request_bytes
        self.clock = clock
        self.reserved_clients = min(max(0, reserved_clients), max_clients - 1)
        self.no_role_idle_s = no_role_idle_s
        self.refusals = refusals or RefusalLimiter()
        self._summary_task: asyncio.Task[None] | None = None
        self._server: asyncio.AbstractServer | None = None
        self._inode: int | None = None
        self._connections: dict[asyncio.Task[Any], _Connection] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._published = 0
        self._dropped_total = 0
        self._refused_clients = 0
        self.stream = secrets.token_hex(8)
        self._event_seq = 0
        self._backlog: collections.deque[tuple[int, str, Any]] = collections.deque(
            maxlen=max(backlog_size, 0))

    @classmethod
    def from_config(
        cls, cfg: Config, handlers: ControlHandlers, audit: AuditSink,
        *, resolver: RoleResolver | None = None,
    ) -> ControlServer:
        c = cfg.control
        return cls(
            socket_path(cfg), command_table(handlers), resolver or RoleResolver(c), audit,
            socket_group=c.socket_group, max_clients=c.max_clients,
            queue_size=c.subscriber_queue_size, max_request_bytes=c.max_request_bytes,
            reserved_clients=c.reserved_clients, no_role_idle_s=c.no_role_idle_s,
            refusals=RefusalLimiter(c.refusal_audit_interval_s,
                                    c.refusals_audited_per_interval),
            backlog_size=c.backlog_size,
        )

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        sock = self._bind()
        self._server = await asyncio.start_unix_server(
            self._serve, sock=sock, limit=self.max_request_bytes
        )
        self._summary_task = asyncio.create_task(self._summarise_refusals())
        log.info("control socket ready at %s", self.path)

    async def close(self) -> None:
        """Stop accepting, end every connection, remove the socket file (if still ours)."""
        if self._server is not None:
            self._server.close()
        if self._summary_task is not None:
            self._summary_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._summary_task
            self._summary_task = None
            self._flush_refusals(force=True)
        for task, conn in list(self._connections.items()):
            if conn.pump is not None:
                conn.pump.cancel()
            # abort, not close: a client that stopped reading (a suspended TUI) would keep a
            # full send buffer, and a graceful close would wait for it for ever at shutdown
            conn.writer.transport.abort()
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(OSError):
            if self._inode is not None and os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        self._inode = None

    async def __aenter__(self) -> ControlServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _bind(self) -> socket.socket:
        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(mode=0o750, parents=True)
            self._chgrp(directory)
        if self.path.exists() or self.path.is_symlink():
            mode = os.lstat(self.path).st_mode
            if not stat.S_ISSOCK(mode):
                raise EdgewardenError(f"{self.path} exists and is not a socket; not replacing it")
            if _socket_alive(self.path):
                raise EdgewardenError(f"another service is already serving {self.path}")
        tmp = directory / f".{self.path.name}.{os.getpid()}.tmp"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            sock.bind(os.fsencode(tmp))
            os.chmod(tmp, 0o660)
            self._chgrp(tmp)
            os.rename(tmp, self.path)  # replaces a stale socket atomically
            self._inode = os.stat(self.path).st_ino
            sock.listen(64)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return sock

    def _chgrp(self, path: Path) -> None:
        if not self.socket_group:
            return
        try:
            gid = grp.getgrnam(self.socket_group).gr_gid
        except KeyError:
            log.warning("group %s does not exist; %s keeps the service's group",
                        self.socket_group, path)
            return
        try:
            os.chown(path, -1, gid)
        except PermissionError:
            log.warning("cannot give %s to group %s (is the service user a member?)",
                        path, self.socket_group)

    # ------------------------------------------------------------------ events
    def publish(self, kind: str, data: Any) -> None:
        """Queue an event for every subscriber of `kind` (call on the server's loop)."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        self._published += 1
        self._event_seq += 1
        if self._backlog.maxlen:
            self._backlog.append((self._event_seq, kind, data))
        for conn in self._connections.values():
            sub = conn.subscriber
            if sub is None or kind not in sub.kinds:
                continue
            self._offer(sub, kind, self._event_seq, data)

    def _offer(self, sub: _Subscriber, kind: str, event_seq: int, data: Any) -> None:
        if sub.resumable:
            sub.seq = event_seq
        else:
            sub.seq += 1
        try:
            sub.queue.put_nowait((kind, sub.seq, data))
        except asyncio.QueueFull:
            sub.dropped += 1
            self._dropped_total += 1

    def publish_threadsafe(self, kind: str, data: Any) -> None:
        """:meth:`publish` from another thread (e.g. the detector worker)."""
        if self._loop is None:
            raise RuntimeError("server not started")
        self._loop.call_soon_threadsafe(self.publish, kind, data)

    def stats(self) -> ControlQueue:
        """Counters for `status`: clients, subscribers and every drop."""
        subs = [c.subscriber for c in self._connections.values() if c.subscriber]
        return ControlQueue(
            clients=len(self._connections),
            subscribers=len(subs),
            events_published=self._published,
            events_dropped=self._dropped_total,
            clients_refused=self._refused_clients,
            queue_size=self.queue_size,
            backlog=len(self._backlog),
        )

    # ------------------------------------------------------------------ connections
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        try:
            peer = peer_credentials(writer.get_extra_info("socket"))
        except OSError:
            writer.close()
            return
        role = self.resolver.resolve(peer)
        if not self._slot_free(role):
            self._refused_clients += 1
            log.warning("control: refusing pid %d uid %d: %d clients connected",
                        peer.pid, peer.uid, len(self._connections))
            self._audit_entry(AuditEntry(
                time=self.clock(), uid=peer.uid, gid=peer.gid, pid=peer.pid,
                role=role.label if role else None, cmd="connect", outcome="refused",
                reason="busy: too many clients connected"))
            with contextlib.suppress(ConnectionError):
                writer.write(encode_error(None, "busy", "too many clients connected"))
                await writer.drain()
            writer.close()
            return
        conn = _Connection(peer=peer, role=role, writer=writer)
        self._connections[task] = conn
        idle = self.no_role_idle_s if role is None else None
        try:
            while True:
                try:
                    line = await asyncio.wait_for(reader.readuntil(b"\n"), idle)
                except TimeoutError:
                    self._audit(conn, "connect", "refused",
                                f"closed: no role and no request for {idle:g} s")
                    break
                except asyncio.IncompleteReadError:
                    break  # EOF (a partial last line is ignored)
                except asyncio.LimitOverrunError:
                    self._audit(conn, "?", "invalid", "request too large")
                    await self._send(conn, encode_error(
                        None, "too_large", f"request over {self.max_request_bytes} bytes"))
                    break
                if line.strip():
                    await self._handle_line(conn, line)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if conn.pump is not None:
                conn.pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await conn.pump
            self._connections.pop(task, None)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), CLOSE_WAIT_S)

    async def _send(self, conn: _Connection, data: bytes) -> None:
        async with conn.lock:
            conn.writer.write(data)
            await conn.writer.drain()

    def _slot_free(self, role: Role | None) -> bool:
        """Whether a caller of `role` may connect now; ops and admin may use every slot."""
        if len(self._connections) >= self.max_clients:
            return False
        if role is not None and role >= Role.OPS:
            return True
        others = sum(1 for c in self._connections.values()
                     if c.role is None or c.role < Role.OPS)
        return others < self.max_clients - self.reserved_clients

    def _audit(self, conn: _Connection, cmd: str, outcome: Outcome, reason: str | None,
               about: dict[str, Any] | None = None) -> None:
        self._audit_entry(AuditEntry(
            time=self.clock(), uid=conn.peer.uid, gid=conn.peer.gid, pid=conn.peer.pid,
            role=conn.role.label if conn.role else None, cmd=cmd, outcome=outcome,
            reason=reason, about=dict(about or {}),
        ))

    def _audit_entry(self, entry: AuditEntry) -> None:
        if entry.outcome in ("refused", "invalid") and not self.refusals.admit(
                entry.uid, entry.gid, entry.pid, entry.role,
                f"{entry.outcome} {entry.cmd}", entry.time):
            return  # counted: the next summary of this caller tells
        try:
            self.audit(entry)
        except Exception:
            log.exception("control: audit sink failed for %s", entry.cmd)

    def _flush_refusals(self, force: bool = False) -> None:
        now = self.clock()
        for s in self.refusals.due(now, force=force):
            try:
                self.audit(AuditEntry(time=now, uid=s.uid, gid=s.gid, pid=s.pid, role=s.role,
                                      cmd="control.refusals", outcome="refused",
                                      reason=s.text(now)))
            except Exception:
                log.exception("control: audit sink failed for a refusal summary")

    async def _summarise_refusals(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.refusals.interval_s))
            self._flush_refusals()

    async def _fail(self, conn: _Connection, request_id: int | None, cmd: str,
                    outcome: Outcome, code: ErrorCode, reason: str) -> None:
        self._audit(conn, cmd, outcome, reason)
        await self._send(conn, encode_error(request_id, code, reason))

    async def _handle_line(self, conn: _Connection, line: bytes) -> None:
        try:
            req = parse_request(line)
        except ProtocolError as exc:
            await self._fail(conn, exc.request_id, "?", "invalid", exc.code, str(exc))
            return
        command = self.table.get(req.cmd)
        if command is None:
            await self._fail(conn, req.id, req.cmd[:64], "invalid", "unknown_command",
                             f"unknown command {req.cmd[:64]!r}")
            return
        if conn.role is None:
            await self._fail(conn, req.id, req.cmd, "refused", "refused",
                             f"{req.cmd} refused: {self.resolver.no_role_reason(conn.peer)}")
            return
        if conn.role < command.spec.role:
            await self._fail(
                conn, req.id, req.cmd, "refused", "refused",
                f"{req.cmd} needs role {command.spec.role.label}; uid {conn.peer.uid} "
                f"has role {conn.role.label}",
            )
            return
        problem = check_args(req.cmd, command.spec, req.args)
        if problem is not None:
            await self._fail(conn, req.id, req.cmd, "invalid", "invalid", problem)
            return
        if command.handler is None:
            await self._server_command(conn, req)
            return
        action = audited_name(req.cmd, command.spec, req.args)
        call = Call(peer=conn.peer, role=conn.role, request_id=req.id)
        try:
            result = await command.handler(call, req.args)
            payload = encode_result(req.id, result)
        except CommandError as exc:
            self._audit(conn, action, "failed", str(exc), call.audit)
            await self._send(conn, encode_error(req.id, "failed", str(exc)))
            return
        except Exception as exc:
            log.error("control: %s failed: %s", req.cmd, type(exc).__name__, exc_info=True)
            await self._fail(conn, req.id, action, "error", "internal",
                             f"{req.cmd}: internal error (see the service log)")
            return
        self._audit(conn, action, "ok", None, call.audit)
        await self._send(conn, payload)

    async def _server_command(self, conn: _Connection, req: Request) -> None:
        if req.cmd == "unsubscribe":
            if conn.pump is not None:
                conn.pump.cancel()
            conn.subscriber, conn.pump = None, None
            self._audit(conn, req.cmd, "ok", None)
            await self._send(conn, encode_result(req.id, {"events": []}))
            return
        kinds = req.args.get("events", list(EVENT_KINDS))
        bad = [k for k in kinds if k not in EVENT_KINDS]
        if bad or not kinds:
            await self._fail(conn, req.id, req.cmd, "invalid", "invalid",
                             f"subscribe: events must be some of {', '.join(EVENT_KINDS)}")
            return
        if conn.subscriber is None:
            conn.subscriber = _Subscriber(frozenset(kinds), asyncio.Queue(self.queue_size))
        else:
            conn.subscriber.kinds = frozenset(kinds)
        result: dict[str, Any] = {"events": sorted(conn.subscriber.kinds),
                                  "queue_size": self.queue_size}
        if "after" in req.args:
            result.update(self._resume(conn.subscriber, req.args["after"],
                                       req.args.get("stream")))
        self._audit(conn, req.cmd, "ok", None)
        # the response goes out before the first event
        await self._send(conn, encode_result(req.id, result))
        if conn.pump is None:
            conn.pump = asyncio.create_task(self._pump(conn, conn.subscriber))

    def _resume(self, sub: _Subscriber, after: int, stream: str | None) -> dict[str, Any]:
        """Queue the backlog's events after `after` (same stream); say what is lost."""
        sub.resumable = True
        gap: int | None = None
        if stream != self.stream:  # a first subscription, or the service restarted:
            after = 0  # all the backlog holds, and the gap is unknown
        else:
            first = self._backlog[0][0] if self._backlog else self._event_seq + 1
            gap = max(0, first - 1 - after)
        for seq, kind, data in self._backlog:
            if seq > after and kind in sub.kinds:
                self._offer(sub, kind, seq, data)
        return {"stream": self.stream, "seq": self._event_seq, "gap": gap}

    async def _pump(self, conn: _Connection, sub: _Subscriber) -> None:
        while True:
            kind, seq, data = await sub.queue.get()
            try:
                line = encode_event(kind, seq, sub.dropped, data)
            except (TypeError, ValueError) as exc:
                log.error("control: %s event not JSON (%s); dropped", kind, exc)
                sub.dropped += 1
                self._dropped_total += 1
                continue
            try:
                await self._send(conn, line)
            except ConnectionError:
                return


def _socket_alive(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    probe.settimeout(0.5)
    try:
        probe.connect(os.fsencode(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True
