"""Pilot: audit rows name who and which alarm; a row opens to its whole record."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import DataTable, Input, Static

from tests.tui.conftest import run_async
from tests.tui.scripted_service import PASSPHRASE, SHELVE_REASON, T0, ScriptedService
from tests.tui.test_flows import plain, table_text, until
from tui.app import EdgewardenApp
from tui.screens.audit import AuditEntryDialog

Starter = Callable[..., ScriptedService]


def row_with(table: DataTable, needle: str) -> tuple[int, list[str]]:  # type: ignore[type-arg]
    for i in range(table.row_count):
        cells = [str(c) for c in table.get_row_at(i)]
        if needle in " ".join(cells):
            return i, cells
    raise AssertionError(f"no row with {needle!r}:\n{table_text(table)}")


@run_async
async def test_audit_rows_name_the_alarm_and_the_actor_and_open_in_full(
    start_service: Starter,
) -> None:
    service = start_service("admin")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("8")
        field = app.screen.query_one("#keys-passphrase", Input)
        field.value = PASSPHRASE
        field.focus()
        await pilot.press("enter")
        await until(pilot, lambda: app.session_key.unlocked, tries=200)
        await pilot.press("escape", "7")
        await until(pilot, lambda: app.current_mode == "audit")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 4, tries=200)
        text = table_text(table)
        assert "service ?" not in text and " ? " not in text

        _, ack = row_with(table, "alarms.ack")
        assert ack[1] == "tech(1000)" and "alarm node-2/humidity:missing" in ack[5]
        _, paired = row_with(table, "node.paired")
        assert paired[1] == "root(0)"  # the service's record of who paired: `by` uid 0
        assert "boiler" in paired[5]
        _, refused = row_with(table, "config.apply")
        assert refused[4] == "refused" and "needs role admin" in refused[5]

        row, shelve = row_with(table, "alarms.shelve")
        assert "alarm node-1/temp:limits" in shelve[5]
        # the detail column is cut on screen; the row opens to all of it
        assert SHELVE_REASON not in app.screen.query_one(DataTable).render_line(row + 1).text
        table.move_cursor(row=row)
        table.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, AuditEntryDialog))
        body = " ".join(plain(app.screen.query_one("#audit-entry-body", Static)).split())
        assert SHELVE_REASON in body
        assert "alarm node-1/temp:limits" in body and "tech(1000)" in body
        assert "2023-11-15 02:13:20 UTC" in body
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, AuditEntryDialog))
        assert table.cursor_row == row
