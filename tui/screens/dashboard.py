"""Dashboard: alarms on top, then every node's channels, cameras, and device health."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from tui.live_state import ALARMS, CAMERAS, HEALTH, NODES, STORE
from tui.screens.base import SiteScreen
from tui.widgets.panel import Panel
from tui.widgets.panels import render_alarm_banner, render_cameras, render_health, render_sensors


class DashboardScreen(SiteScreen):
    TITLE_TEXT = "Dashboard"
    WATCHES = frozenset({ALARMS, NODES, CAMERAS, HEALTH, STORE})

    _sensor_rows = -1

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="dashboard"):
            yield Panel(id="alarm-banner", classes="panel")
            yield Panel(id="sensors", classes="panel")
            with Horizontal(id="dash-bottom"):
                yield Panel(id="cameras", classes="panel")
                yield Panel(id="health", classes="panel")

    def on_mount(self) -> None:
        self.query_one("#alarm-banner").border_title = "Active alarms"
        self.query_one("#sensors").border_title = "Sensor nodes"
        self.query_one("#cameras").border_title = "Cameras"
        self.query_one("#health").border_title = "Device"
        super().on_mount()

    def refresh_view(self, changed: set[str]) -> None:
        site = self.site
        status = site.live.status
        now = site.clock()
        everything = not changed
        if everything or ALARMS in changed:
            self.query_one("#alarm-banner", Static).update(render_alarm_banner(status, limit=4))
        if everything or NODES in changed:
            spark = 30 if self.size.width >= 120 else 16
            # same rows as before: repaint only, no relayout of the screen (the common case)
            rows = sum(max(1, len(n.channels)) for n in status.nodes)
            same_shape = rows == self._sensor_rows and not everything
            self._sensor_rows = rows
            sensors = self.query_one("#sensors", Static)
            if same_shape:
                sensors.update(render_sensors(site.live, now, spark), layout=False)
            else:  # the setter also drops the cached height
                sensors.content = render_sensors(site.live, now, spark)
        if everything or CAMERAS in changed:
            self.query_one("#cameras", Static).update(render_cameras(status, now))
        if everything or HEALTH in changed or STORE in changed:
            self.query_one("#health", Static).update(render_health(status))
