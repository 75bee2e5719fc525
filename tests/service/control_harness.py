"""A control server on a background event loop, and forked clients under other uids."""

from __future__ import annotations

import asyncio
import grp
import json
import os
import pwd
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from controller.config import ControlConfig
from controller.control.commands import command_table
from controller.control.refusals import RefusalLimiter
from controller.control.roles import RoleResolver
from controller.control.server import AuditEntry, ControlServer
from tests.service.fake_service import FakeService

T = TypeVar("T")


class ServerThread:
    """Runs a ControlServer with FakeService handlers on its own loop thread."""

    def __init__(self, path: Path, cfg: ControlConfig, **kw: Any) -> None:
        # role tests count one audit entry per refusal; the limiter is tested on its own
        kw.setdefault("refusals", RefusalLimiter(per_interval=10_000))
        self.fake = FakeService()
        self.audit: list[AuditEntry] = []
        self.loop = asyncio.new_event_loop()
        self.server = ControlServer(
            path, command_table(self.fake), RoleResolver(cfg), self.audit.append,
            socket_group=cfg.socket_group, **kw,
        )
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        self.run(self.server.start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.run(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def call_soon(self, fn: Callable[[], Any]) -> None:
        async def go() -> None:
            fn()
        self.run(go())


def free_groups(n: int) -> list[grp.struct_group]:
    """n existing groups with no members and no special meaning, for role tests."""
    avoid = {"root", "sudo", "adm", "shadow", "disk", "kmem", "wheel", "staff", "tty"}
    out = [g for g in grp.getgrall() if g.gr_gid != 0 and not g.gr_mem
           and g.gr_name not in avoid and g.gr_gid < 60000]
    return out[:n]


def unused_uid(start: int = 54321) -> int:
    uid = start
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
        uid += 1


def run_as(uid: int, gid: int, groups: list[int], fn: Callable[[], Any]) -> Any:
    """Fork, drop to uid/gid/groups, run fn, and return its JSON result (or the error)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        status = 0
        try:
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)
            out: Any = {"result": fn()}
        except BaseException as exc:  # report everything to the parent
            out = {"error": type(exc).__name__, "message": str(exc)}
        try:
            os.write(w, json.dumps(out).encode())
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    return json.loads(b"".join(chunks))
