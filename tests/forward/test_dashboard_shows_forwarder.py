"""The TUI's device panel shows the forwarder's report: connected, outbox, last error."""

from __future__ import annotations

from rich.console import Console

from tui.model import parse_status
from tui.widgets.panels import render_health


def rendered(status: dict[str, object]) -> str:
    console = Console(width=120, record=True)
    console.print(render_health(parse_status(status)))
    return console.export_text()


def test_device_panel_shows_the_forwarder() -> None:
    assert "MQTT" not in rendered({})  # no forwarder reports: nothing to show
    up = rendered({"forwarder": {"connected": True, "outbox": 0, "last_error": None}})
    assert "MQTT connected  outbox 0" in up
    down = rendered({"forwarder": {"connected": False, "outbox": 1234,
                                   "last_error": "broker mqtt://b:1883: connection refused"}})
    assert "MQTT not connected  outbox 1,234 — broker mqtt://b:1883: connection refused" in down
