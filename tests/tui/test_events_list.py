"""Pilot: the Events list reads its rows as soon as history is unlocked, and keeps its place."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import DataTable, Input

from tests.tui.conftest import run_async
from tests.tui.scripted_service import PASSPHRASE, T0, History, ScriptedService
from tests.tui.test_flows import table_text, text_of, until
from tui.app import EdgewardenApp
from tui.screens.events import EventDetailScreen

Starter = Callable[..., ScriptedService]


def busy_site(service: ScriptedService) -> ScriptedService:
    """More events than one hand-out used to decrypt (200): a site with an alarm flood."""
    service.handlers.history = History(extra_alarms=300)
    return service


async def unlock_on_keys_screen(app: EdgewardenApp, pilot: object) -> None:
    await pilot.press("8")  # type: ignore[attr-defined]
    await until(pilot, lambda: app.current_mode == "keys")
    field = app.screen.query_one("#keys-passphrase", Input)
    field.value = PASSPHRASE
    field.focus()
    await pilot.press("enter")  # type: ignore[attr-defined]
    await until(pilot, lambda: app.session_key.unlocked, tries=200)


@run_async
async def test_rows_unlocked_on_the_keys_screen_are_read_without_reload(
    start_service: Starter,
) -> None:
    service = busy_site(start_service("ops"))
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("3")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 302)
        assert table_text(table).count("locked") == 302
        await unlock_on_keys_screen(app, pilot)
        app.screen.set_focus(None)
        await pilot.press("3")  # no r: the list reads itself
        await until(pilot, lambda: "locked" not in table_text(table), tries=200)
        assert table.row_count == 302 and "sedan 0.47" in table_text(table)
        # locking forgets the decrypted rows too
        await pilot.press("ctrl+l")
        await until(pilot, lambda: table_text(table).count("locked") == 302, tries=100)


@run_async
async def test_unlock_from_the_events_screen_reads_every_row(start_service: Starter) -> None:
    service = busy_site(start_service("ops"))
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("3")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 302)
        await pilot.press("u")
        await until(pilot, lambda: app.screen.query("#passphrase"))
        app.screen.query_one("#passphrase", Input).value = PASSPHRASE
        await pilot.press("enter")
        await until(pilot, lambda: "locked" not in table_text(table), tries=200)
        assert "unknown" not in table_text(table)


@run_async
async def test_coming_back_from_an_event_keeps_the_row_and_the_focus(
    start_service: Starter,
) -> None:
    service = busy_site(start_service("ops"))
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.connected)
        await unlock_on_keys_screen(app, pilot)
        app.screen.set_focus(None)
        await pilot.press("3")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 302 and "locked" not in table_text(table),
                    tries=200)
        row = table.get_row_index("150")
        table.move_cursor(row=row)
        await pilot.pause(0.1)
        for _ in range(2):  # there and back twice: nothing drifts
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, EventDetailScreen), tries=200)
            await until(pilot, lambda: "record" in text_of(app, "#event-body"), tries=200)
            assert "#150" in text_of(app, "#event-body")
            await pilot.press("escape")
            await until(pilot, lambda: app.current_mode == "events"
                        and not isinstance(app.screen, EventDetailScreen))
            await pilot.pause(0.5)  # the list reloads on return
            assert table.cursor_row == row
            assert app.focused is table
            assert table.is_valid_row_index(row) and table.scroll_y > 0
        await pilot.press("down")
        await until(pilot, lambda: table.cursor_row == row + 1)
