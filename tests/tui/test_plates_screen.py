"""Pilot: the Plates screen against the scripted service (real socket, real register)."""

from __future__ import annotations

import json
from collections.abc import Callable

from textual.widgets import DataTable, Input, Select, TabbedContent

from controller.plates import register_file
from tests.tui.conftest import run_async
from tests.tui.scripted_service import PASSPHRASE, T0, History, ScriptedService
from tests.tui.test_events_list import unlock_on_keys_screen
from tests.tui.test_flows import plain, table_text, text_of, until
from tests.tui.test_keys_and_focus import footer_keys
from tui.app import EdgewardenApp
from tui.screens.plate_detail import PlateDetailScreen
from tui.screens.plates import PlatesScreen

Starter = Callable[..., ScriptedService]


async def open_plates(app: EdgewardenApp, pilot: object) -> DataTable:  # type: ignore[type-arg]
    await until(pilot, lambda: app.connected)
    await pilot.press("9")  # type: ignore[attr-defined]
    await until(pilot, lambda: isinstance(app.screen, PlatesScreen))
    return app.screen.query_one("#plate-table", DataTable)


async def unlock(app: EdgewardenApp, pilot: object) -> None:
    await pilot.press("u")  # type: ignore[attr-defined]
    await until(pilot, lambda: app.screen.query("#passphrase"))
    app.screen.query_one("#passphrase", Input).value = PASSPHRASE
    await pilot.press("enter")  # type: ignore[attr-defined]
    await until(pilot, lambda: app.session_key.unlocked, tries=300)


@run_async
async def test_live_reads_show_the_verdict_then_the_plate_and_crop_after_unlock(
    start_service: Starter,
) -> None:
    service = start_service("ops")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_plates(app, pilot)
        await until(pilot, lambda: table.row_count == 3)
        assert app.focused is table  # no screen starts in a text field
        assert "History is locked" in text_of(app, "#plate-note")
        assert "KJA407XY" not in table_text(table)  # the text is in the records only
        # a listed vehicle drives in: its notice shows at once, newest first, verdict only
        service.read_plate("KJA4O7XY", track_id=21, t=T0 + 5)
        await until(pilot, lambda: table.row_count == 4)
        first = " ".join(str(c) for c in table.get_row_at(0))
        assert "watch" in first and "gate" in first and "KJA" not in first
        await unlock(app, pilot)
        await until(pilot, lambda: "KJA4O7XY" in table_text(table), tries=200)
        assert table.row_count == 4  # the notice and its record are one row
        rows = [" ".join(str(c) for c in table.get_row_at(i)) for i in range(4)]
        assert "KJA4O7XY" in rows[0] and "EPE118KD" in rows[1] and "unknown" in rows[1]
        assert "ABC123DE" in rows[2] and "allow" in rows[2]
        table.move_cursor(row=0)
        await until(pilot, lambda: "stolen van" in text_of(app, "#plate-info"))
        assert "KJA407XY (near)" in text_of(app, "#plate-info")
        # the crop's thumbnail is decoded in a worker, then drawn in half blocks
        await until(pilot, lambda: "▀" in text_of(app, "#plate-crop"), tries=200)
        await until(pilot, lambda: "▀" in text_of(app, "#plate-vehicle"), tries=200)
        # Enter opens the read in full, its pictures drawn with the terminal's graphics
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PlateDetailScreen))
        assert "KJA4O7XY" in text_of(app, "#plate-body")
        assert "watch · stolen van · alarm high" in text_of(app, "#plate-body")
        await until(pilot, lambda: app.screen.query("#plate-crop-image")
                    and app.screen.query("#plate-vehicle-image"), tries=300)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, PlatesScreen))
        assert app.focused is table
        # locking forgets the plates and the pictures, and closes an open read
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PlateDetailScreen))
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(app.screen, PlatesScreen))
        await until(pilot, lambda: "KJA" not in table_text(table))
        assert not app.screen.query_one("#plate-crop").display


@run_async
async def test_search_by_part_and_near_plates_then_escape_back_to_the_list(
    start_service: Starter,
) -> None:
    service = start_service("ops")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_plates(app, pilot)
        await until(pilot, lambda: table.row_count == 3)
        search = app.screen.query_one("#plate-search", Input)
        await pilot.press("slash")
        await until(pilot, lambda: app.focused is search)
        await pilot.press("1")  # typing in the field: a digit is text, not the dashboard
        assert app.current_mode == "plates" and search.value == "1"
        assert "Unlock (u) to search" in text_of(app, "#plate-note")
        await pilot.press("escape")
        await until(pilot, lambda: app.focused is table)
        search.value = ""
        await unlock(app, pilot)
        await until(pilot, lambda: "KJA407XY" in table_text(table), tries=200)
        search.value = "kja 4o7"  # a look-alike away from the stolen van's plate
        await until(pilot, lambda: table.row_count == 1)
        assert "KJA407XY ≈" in table_text(table)
        assert "1 read(s) match" in text_of(app, "#plate-note")
        search.value = "123"  # a part
        await until(pilot, lambda: "ABC123DE" in table_text(table))
        assert table.row_count == 1
        assert "≈" not in table_text(table)
        search.value = "QQQQQQ"
        await until(pilot, lambda: table.row_count == 0)
        picker = app.screen.query_one("#plate-range", Select)
        picker.focus()
        picker.value = None  # all time: a range picked gives the keys back to the list
        await until(pilot, lambda: app.focused is table)
        search.focus()
        await pilot.press("enter")  # Enter ends the search: back on the list
        await until(pilot, lambda: app.focused is table)
        await pilot.press("1")
        await until(pilot, lambda: app.current_mode == "dashboard")


@run_async
async def test_an_admin_adds_changes_and_removes_register_entries(
    start_service: Starter,
) -> None:
    service = start_service("admin")
    path = service.socket_path.parent / register_file.FILE_NAME
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_plates(app, pilot)
        await pilot.press("v")
        table = app.screen.query_one("#register-table", DataTable)
        await until(pilot, lambda: app.screen.query_one(TabbedContent).active == "register")
        await until(pilot, lambda: table.row_count == 3)
        assert app.focused is table
        assert "Add" in footer_keys(app) and "Search" not in footer_keys(app)
        await pilot.press("a")
        await until(pilot, lambda: app.screen.query("#vehicle-plate"))
        plate = app.screen.query_one("#vehicle-plate", Input)
        plate.value = "x"  # the client checks as the service does, before sending
        await pilot.press("enter")
        await until(pilot, lambda: "2 to 12" in plain(app.screen.query_one("#vehicle-error")))
        plate.value = "lag-512kd"
        app.screen.query_one("#vehicle-label", Input).value = "courier"
        await pilot.press("enter")
        await until(pilot, lambda: table.row_count == 4)
        assert "LAG512KD" in table_text(table) and "courier" in table_text(table)
        saved = json.loads(path.read_text())["entries"]  # saved by the service
        assert {"plate": "LAG512KD", "list": "watch", "label": "courier", "note": "",
                "priority": ""} in saved
        # change it: the plate stays, the list and label change (replace on the service)
        table.move_cursor(row=table.get_row_index("LAG512KD"))
        await pilot.press("e")
        await until(pilot, lambda: app.screen.query("#vehicle-label"))
        assert app.screen.query_one("#vehicle-plate", Input).disabled
        app.screen.query_one("#vehicle-label", Input).value = "courier, known"
        await pilot.press("enter")
        await until(pilot, lambda: "courier, known" in table_text(table))
        # remove it after a confirm step
        table.move_cursor(row=table.get_row_index("LAG512KD"))
        await pilot.press("d")
        await until(pilot, lambda: app.screen.query("#confirm"))
        assert "Remove LAG512KD from the watch list" in plain(
            app.screen.query_one(".dialog-body"))
        await pilot.click("#confirm")
        await until(pilot, lambda: table.row_count == 3)
        assert "LAG512KD" not in path.read_text()
    actions = [a for a, _ in service.handlers.register_audit]
    assert actions == ["vehicles.add", "vehicles.add", "vehicles.remove"]
    assert [r["outcome"] for r in service.requests if r["cmd"].startswith("vehicles.")
            and r["cmd"] != "vehicles.list"] == ["ok", "ok", "ok"]


@run_async
async def test_ops_sees_the_register_read_only(start_service: Starter) -> None:
    service = start_service("ops")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_plates(app, pilot)
        await pilot.press("v")
        table = app.screen.query_one("#register-table", DataTable)
        await until(pilot, lambda: table.row_count == 3)
        note = text_of(app, "#register-note")
        assert "needs the admin role; you are ops: read only" in note
        assert app.screen.check_action("add_entry", ()) is None  # shown disabled
        await pilot.press("a")
        await pilot.press("d")
        await pilot.pause(0.3)
        assert not app.screen.query("#vehicle-plate") and not app.screen.query("#confirm")
        assert not any(r["cmd"] in ("vehicles.add", "vehicles.remove")
                       for r in service.requests)


@run_async
async def test_view_sees_live_verdicts_and_no_history_or_register(
    start_service: Starter,
) -> None:
    service = start_service("view")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_plates(app, pilot)
        await until(pilot, lambda: "needs the ops role" in text_of(app, "#plate-note"))
        assert "live verdicts only" in text_of(app, "#plate-note")
        service.read_plate("LSR990AA", camera="yard", track_id=9, t=T0 + 2)
        await until(pilot, lambda: table.row_count == 1)
        assert "deny" in table_text(table) and "LSR" not in table_text(table)
        await pilot.press("v")
        await until(pilot, lambda: "needs the ops role" in text_of(app, "#register-note"))
        assert not app.screen.query_one("#register-table").display
    assert not any(r["cmd"] in ("events.list", "history.fetch") and r["outcome"] == "ok"
                   for r in service.requests)


@run_async
async def test_the_command_palette_goes_to_plates(start_service: Starter) -> None:
    service = start_service("ops")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: app.screen.query("CommandInput"))
        await pilot.press(*"go to plates")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: app.current_mode == "plates")
        await until(pilot, lambda: isinstance(app.screen, PlatesScreen))
        assert app.focused is app.screen.query_one("#plate-table")


@run_async
async def test_a_read_heard_live_is_read_once_unlocked_on_the_keys_screen(
    start_service: Starter,
) -> None:
    service = start_service("ops")
    service.handlers.history = History(plates=False)  # nothing stored before the TUI came
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_plates(app, pilot)
        assert "No plate reads" in text_of(app, "#plate-note")
        service.read_plate("ABC123DE", track_id=30, t=T0 + 1)
        await until(pilot, lambda: "allow" in table_text(table))
        await unlock_on_keys_screen(app, pilot)
        app.screen.set_focus(None)
        await pilot.press("9")  # no r: the screen reads what it heard
        await until(pilot, lambda: "ABC123DE" in table_text(table), tries=200)
        assert table.row_count == 1
