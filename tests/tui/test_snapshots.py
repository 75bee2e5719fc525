"""Snapshot tests of the main screens at 80x24 and 160x48 (fixed data, fixed clock).

Update after an intended change with `uv run pytest tests/tui --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.tui.scripted_service import T0, ScriptedService
from tui.app import EdgewardenApp

SIZES = [(80, 24), (160, 48)]
SCREENS = [("1", "dashboard", "ops"), ("2", "alarms", "ops"), ("3", "events", "ops"),
           ("4", "nodes", "admin"), ("6", "config", "ops"), ("8", "keys", "admin"),
           ("9", "plates", "admin")]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(("key", "name", "role"), SCREENS, ids=[s[1] for s in SCREENS])
def test_screen_snapshot(
    snap_compare: Any, start_service: Callable[..., ScriptedService],
    key: str, name: str, role: str, size: tuple[int, int],
) -> None:
    service = start_service(role)
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)

    async def settle(pilot: Any) -> None:
        for _ in range(100):
            if app.connected:
                break
            await pilot.pause(0.05)
        await pilot.press(key)
        for _ in range(100):  # the config text arrives from the service asynchronously
            area = app.screen.query("TextArea")
            if name != "config" or (area and "north-gate" in area.first().text):
                break
            await pilot.pause(0.05)
        # a blinking cursor is on or off depending on when the frame is taken
        for widget in app.screen.query("Input, TextArea"):
            widget.cursor_blink = False  # type: ignore[attr-defined]
        await pilot.pause(0.5)
        await pilot.wait_for_scheduled_animations()

    assert snap_compare(app, terminal_size=size, run_before=settle)
