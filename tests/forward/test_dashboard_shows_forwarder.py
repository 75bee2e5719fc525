"""The TUI's device panel shows the forwarder's report: connected, outbox, last error."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from tests.tui.scripted_service import base_status
from tui.model import parse_status
from tui.widgets.panels import render_health


def rendered(forwarder: dict[str, Any] | None) -> str:
    """The Device panel of a whole status (as the schema has it) with this forwarder."""
    status = base_status("admin")
    status["forwarder"] = None if forwarder is None else {
        "published": 0, "gaps": 0, "broker": "mqtt://b:1883", "uid": 999, "time": 0.0,
        **forwarder}
    console = Console(width=120, record=True)
    console.print(render_health(parse_status(status)))
    return console.export_text()


def test_device_panel_shows_the_forwarder() -> None:
    assert "MQTT" not in rendered(None)  # no forwarder reports: nothing to show
    up = rendered({"connected": True, "outbox": 0, "last_error": None})
    assert "MQTT connected  outbox 0" in up
    down = rendered({"connected": False, "outbox": 1234,
                     "last_error": "broker mqtt://b:1883: connection refused"})
    assert "MQTT not connected  outbox 1,234 — broker mqtt://b:1883: connection refused" in down
