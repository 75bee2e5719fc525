"""Pilot: the screen digits switch screens unless a text field has focus; Escape leaves it."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import DataTable, Footer, Input, TextArea

from tests.tui.conftest import run_async
from tests.tui.scripted_service import CONFIG_TOML, T0, ScriptedService
from tests.tui.test_flows import plain, table_text, until
from tui.app import EdgewardenApp

Starter = Callable[..., ScriptedService]


def footer_keys(app: EdgewardenApp) -> str:
    """The footer's key hints, as the user reads them."""
    footer = app.screen.query_one(Footer)
    return " ".join(str(getattr(w, "description", "")) for w in footer.children)


@run_async
async def test_a_digit_on_config_switches_screens_and_never_edits_the_file(
    start_service: Starter,
) -> None:
    service = start_service("admin")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("6")
        area = app.screen.query_one(TextArea)
        await until(pilot, lambda: "north-gate" in area.text)
        assert app.focused is None  # arriving on Config does not start editing
        await pilot.press("7")
        await until(pilot, lambda: app.current_mode == "audit")

        await pilot.press("6")
        await until(pilot, lambda: app.current_mode == "config")
        assert area.text == CONFIG_TOML
        assert plain(app.screen.query_one("#config-error")) == ""
        await pilot.press("e")  # the user chooses to edit: now keys are text
        await until(pilot, lambda: app.focused is area)
        await until(pilot, lambda: "Leave field" in footer_keys(app))
        await pilot.press("escape")
        await until(pilot, lambda: app.focused is None)
        await until(pilot, lambda: "Leave field" not in footer_keys(app))
        await pilot.press("e")
        await pilot.press("tab")  # the only field: Tab leaves it too
        await until(pilot, lambda: app.focused is None)
        await pilot.press("3")
        await until(pilot, lambda: app.current_mode == "events")
        assert area.text == CONFIG_TOML and service.config_text == CONFIG_TOML


@run_async
async def test_escape_and_enter_and_tab_give_the_keys_back_from_the_events_filter(
    start_service: Starter,
) -> None:
    service = start_service("ops")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("3")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 2)
        assert app.focused is table
        await pilot.press("1")  # the list has focus: 1 is the dashboard, not a label
        await until(pilot, lambda: app.current_mode == "dashboard")
        await pilot.press("3")
        await until(pilot, lambda: app.current_mode == "events")
        label = app.screen.query_one("#event-label", Input)
        assert label.value == "" and table.row_count == 2

        label.focus()  # the user picks the filter: digits are text there, as in any field
        await until(pilot, lambda: "Leave field" in footer_keys(app))
        await pilot.press("1")
        await until(pilot, lambda: label.value == "1")
        assert app.current_mode == "events"
        await pilot.press("escape")
        # back on the list, whose keys work again
        await until(pilot, lambda: app.focused is table)
        await pilot.press("backspace")  # not into the filter
        assert label.value == "1"
        label.value = ""
        await until(pilot, lambda: table.row_count == 2)

        label.focus()
        await pilot.press("tab")
        await until(pilot, lambda: app.focused is table)
        label.focus()
        await pilot.press("enter")
        await until(pilot, lambda: app.focused is table)
        await pilot.press("2")
        await until(pilot, lambda: app.current_mode == "alarms")


@run_async
async def test_the_keys_screen_does_not_take_digits_into_the_passphrase(
    start_service: Starter,
) -> None:
    service = start_service("admin")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("8")
        await until(pilot, lambda: app.current_mode == "keys")
        await pilot.pause(0.1)
        await pilot.press("2")
        await until(pilot, lambda: app.current_mode == "alarms")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: "node-1/temp" in table_text(table))
        await pilot.press("slash")  # the alarm filter
        await pilot.press("t", "e", "m", "p", "enter")
        await until(pilot, lambda: app.focused is table)
        assert "node-2" not in table_text(table)
        await pilot.press("8")
        await until(pilot, lambda: app.current_mode == "keys")
        assert app.screen.query_one("#keys-passphrase", Input).value == ""
