"""Dashboard: alarms on top, then every node's channels, cameras, and device health."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from tui.connection import Freshness
from tui.live_state import ALARMS, CAMERAS, HEALTH, NODES, STORE
from tui.screens.base import SiteScreen
from tui.widgets.panel import Panel
from tui.widgets.panels import render_alarm_banner, render_cameras, render_health, render_sensors


class DashboardScreen(SiteScreen):
    TITLE_TEXT = "Dashboard"
    WATCHES = frozenset({ALARMS, NODES, CAMERAS, HEALTH, STORE})

    _sensor_rows = -1
    _titles_for: Freshness | None = None
    TITLES = (("#alarm-banner", "Active alarms"), ("#sensors", "Sensor nodes"),
              ("#cameras", "Cameras"), ("#health", "Device"))

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="dashboard"):
            yield Panel(id="alarm-banner", classes="panel")
            yield Panel(id="sensors", classes="panel")
            with Horizontal(id="dash-bottom"):
                yield Panel(id="cameras", classes="panel")
                yield Panel(id="health", classes="panel")

    def _titles(self, fresh: Freshness) -> None:
        """Each panel's title says when what it shows is not live."""
        if fresh == self._titles_for:
            return
        self._titles_for = fresh
        stale = "" if fresh.live or fresh.as_of is None else f" · stale, {fresh.label()}"
        for selector, title in self.TITLES:
            self.query_one(selector).border_title = title + stale

    def refresh_view(self, changed: set[str]) -> None:
        site = self.site
        status = site.live.status
        now = site.clock()
        fresh = site.freshness
        self._titles(fresh)
        everything = not changed
        if everything or ALARMS in changed:
            self.query_one("#alarm-banner", Static).update(
                render_alarm_banner(status, limit=4, fresh=fresh))
        if everything or NODES in changed:
            spark = 30 if self.size.width >= 120 else 16
            # same rows as before: repaint only, no relayout of the screen (the common case)
            rows = sum(max(1, len(n.channels)) for n in status.nodes)
            same_shape = rows == self._sensor_rows and not everything
            self._sensor_rows = rows
            sensors = self.query_one("#sensors", Static)
            if same_shape:
                sensors.update(render_sensors(site.live, now, spark, fresh), layout=False)
            else:  # the setter also drops the cached height
                sensors.content = render_sensors(site.live, now, spark, fresh)
        if everything or CAMERAS in changed:
            self.query_one("#cameras", Static).update(render_cameras(status, now, fresh))
        if everything or HEALTH in changed or STORE in changed:
            self.query_one("#health", Static).update(render_health(status, fresh))
