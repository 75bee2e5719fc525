"""Fixtures of the TUI tests: a scripted service on a real Unix socket, and the app on it."""

from __future__ import annotations

import asyncio
import functools
import shutil
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.tui.scripted_service import T0, ScriptedService


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: AF_UNIX socket paths are limited to ~108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="ewtui-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def start_service(short_dir: Path) -> Iterator[Callable[..., ScriptedService]]:
    started: list[ScriptedService] = []

    def start(role: str = "admin") -> ScriptedService:
        service = ScriptedService(short_dir / "control.sock", role=role).start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture
def fixed_clock() -> Callable[[], float]:
    return lambda: T0


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on a fresh event loop (no asyncio pytest plugin is installed)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper
