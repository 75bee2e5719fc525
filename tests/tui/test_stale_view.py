"""Pilot: when the service stops, every screen says its data is stale; live again on return."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widgets import DataTable, Static

from tests.tui.conftest import run_async
from tests.tui.scripted_service import T0, ScriptedService
from tests.tui.test_flows import plain, table_text, text_of, until
from tui.app import EdgewardenApp

Starter = Callable[..., ScriptedService]


class Clock:
    """A clock the test moves: ages would count up with it if the view were live."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@run_async
async def test_dashboard_is_stale_after_the_service_stops_and_live_when_it_returns(
    start_service: Starter,
) -> None:
    service = start_service("ops")
    service.status["alarms"] = []  # the case of the report: an all-clear in green
    clock = Clock()
    app = EdgewardenApp(service.socket_path, clock=clock, ticking=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connected)
        await until(pilot, lambda: "on 2s" in text_of(app, "#sensors"))
        banner = app.screen.query_one("#alarm-banner", Static).content
        assert isinstance(banner, Text) and banner.plain == "No active alarms"
        assert "green" in str(banner.style)
        assert "running" in text_of(app, "#cameras")
        assert not app.screen.query_one("#stale-note").display

        service.stop()
        await until(pilot, lambda: app.screen.query_one("#stale-note").display)
        note = text_of(app, "#stale-note")
        assert app.screen.query_one("#stale-note").display
        assert "Service away" in note and "as of 22:13:20 UTC" in note
        banner = app.screen.query_one("#alarm-banner", Static).content
        assert isinstance(banner, Text)
        assert "green" not in str(banner.style)  # no all-clear from a service not heard
        assert "No active alarms as of 22:13:20 UTC" in banner.plain
        assert "not known since" in banner.plain
        sensors = text_of(app, "#sensors")
        assert "was on" in sensors and "on 2s" not in sensors
        assert "was off 10m" in sensors
        cameras = text_of(app, "#cameras")
        assert "was running" in cameras and "sedan 0.47 at 22:12:50" in cameras
        for panel in ("#alarm-banner", "#sensors", "#cameras", "#health"):
            title = str(app.screen.query_one(panel).border_title)
            assert "stale, as of 22:13:20 UTC" in title, (panel, title)
        assert app.screen.has_class("-stale")  # dimmed (app.tcss)

        # time passes while away: nothing counts up
        before = text_of(app, "#sensors"), text_of(app, "#cameras")
        clock.now += 95
        app.screen.refresh_view(set())  # as every reconnect attempt redraws
        await pilot.pause(0.1)
        assert (text_of(app, "#sensors"), text_of(app, "#cameras")) == before

        service.start()
        await until(pilot, lambda: app.connected, tries=200)
        await until(pilot, lambda: not app.screen.query_one("#stale-note").display)
        assert not app.screen.has_class("-stale")
        assert plain(app.screen.query_one("#alarm-banner", Static)).strip() == "No active alarms"
        sensors = text_of(app, "#sensors")
        assert "was on" not in sensors and "on 1m" in sensors  # live: measured to now again
        assert "was running" not in text_of(app, "#cameras")
        assert str(app.screen.query_one("#sensors").border_title) == "Sensor nodes"


@run_async
async def test_alarms_and_nodes_screens_say_stale_and_stop_their_ages(
    start_service: Starter,
) -> None:
    service = start_service("admin")
    clock = Clock()
    app = EdgewardenApp(service.socket_path, clock=clock, ticking=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("2")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: "node-1/temp" in table_text(table))
        assert "2m" in table_text(table)  # raised 120 s before now
        service.stop()
        await until(pilot, lambda: app.screen.query_one("#stale-note").display)
        assert "as of 22:13:20 UTC" in text_of(app, "#stale-note")
        assert app.screen.has_class("-stale")
        clock.now += 600
        app.screen.refresh_view(set())
        await pilot.pause(0.1)
        assert "2m" in table_text(table) and "12m" not in table_text(table)
        assert app.screen.check_action("acknowledge", ()) is None  # nothing to send it to
        await pilot.press("4")
        await until(pilot, lambda: app.current_mode == "nodes")
        assert "as of 22:13:20 UTC" in text_of(app, "#stale-note")
        assert app.screen.has_class("-stale")
        service.start()
        await until(pilot, lambda: app.connected, tries=200)
        await until(pilot, lambda: not app.screen.query_one("#stale-note").display)


@run_async
async def test_before_the_first_connect_no_all_clear_is_shown(short_dir: object) -> None:
    from pathlib import Path

    app = EdgewardenApp(Path(str(short_dir)) / "nobody.sock", clock=lambda: T0, ticking=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: "not known yet" in text_of(app, "#alarm-banner"))
        banner = text_of(app, "#alarm-banner")
        assert "No active alarms" not in banner and "not known yet" in banner
