"""Pilot tests of the screen flows, against a real Unix-socket service with scripted state."""

from __future__ import annotations

import io
from collections.abc import Callable

from rich.console import Console
from textual.content import Content
from textual.widgets import DataTable, Input, Label, Static, TextArea

from tests.tui.conftest import run_async
from tests.tui.scripted_service import (
    PASSPHRASE,
    T0,
    ScriptedService,
    scripted_reading,
    scripted_transition,
)
from tui.app import EdgewardenApp
from tui.screens.events import EventDetailScreen

Starter = Callable[..., ScriptedService]


async def until(pilot: object, condition: Callable[[], bool], tries: int = 100) -> None:
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.05)  # type: ignore[attr-defined]
    raise AssertionError("condition not reached")


def plain(widget: Static) -> str:
    """What a Static/Label shows, as plain text."""
    content = widget.content
    if isinstance(content, str):
        return content
    if isinstance(content, Content):
        return content.plain
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(content)
    return console.export_text()


def text_of(app: EdgewardenApp, selector: str) -> str:
    return plain(app.screen.query_one(selector, Static))


def table_text(table: DataTable) -> str:  # type: ignore[type-arg]
    return "\n".join(
        " ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)
    )


@run_async
async def test_a_reading_change_shows_on_the_dashboard(start_service: Starter) -> None:
    service = start_service("view")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connected)
        await until(pilot, lambda: "21.5 °C" in text_of(app, "#sensors"))
        service.inject("reading", scripted_reading("node-1", "temp", 77.25, T0, "°C"))
        await until(pilot, lambda: "77.25 °C" in text_of(app, "#sensors"))
        assert "21.5 °C" not in text_of(app, "#sensors")


@run_async
async def test_acknowledge_an_injected_alarm(start_service: Starter) -> None:
    service = start_service("ops")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connected)
        service.inject("alarm", scripted_transition(  # as the service publishes it
            "node-1/pressure:rate", "raise", "normal", "active_unack", t=T0, value=9.9,
            severity="critical", priority="urgent", seq=12))
        await until(pilot, lambda: "node-1/pressure" in text_of(app, "#alarm-banner"))
        await pilot.press("2")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: "node-1/pressure" in table_text(table))
        # the urgent unacknowledged alarm sorts first and is selected
        assert "node-1/pressure" in " ".join(str(c) for c in table.get_row_at(0))
        await pilot.press("a")
        await until(pilot, lambda: any(
            r["cmd"] == "alarms.ack" for r in service.requests))
        acked = [a for a in service.status["alarms"] if a["id"] == "node-1/pressure:rate"]
        assert acked[0]["state"] == "active_ack" and acked[0]["acked_by"] == "tech"
        await until(pilot, lambda: "acked" in " ".join(
            str(c) for c in table.get_row("node-1/pressure:rate")))
        # it no longer needs action, so the still-unacknowledged alarm sorts above it
        assert "node-1/temp" in " ".join(str(c) for c in table.get_row_at(0))


@run_async
async def test_shelve_asks_for_a_reason_then_shelves(start_service: Starter) -> None:
    service = start_service("ops")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("2")
        await pilot.pause(0.2)
        await pilot.press("s")
        await until(pilot, lambda: app.screen.query("#reason"))
        await pilot.click("#confirm")
        assert "reason" in plain(app.screen.query_one("#shelve-error", Label))
        reason = app.screen.query_one("#reason", Input)
        reason.value = "maintenance"
        reason.focus()
        await pilot.press("enter")
        await until(pilot, lambda: any(r["cmd"] == "alarms.shelve" for r in service.requests))
        shelved = service.status["alarms"][0]
        assert shelved["state"] == "shelved" and shelved["shelve_reason"] == "maintenance"
        assert shelved["shelved_until"] == T0 + 3600


@run_async
async def test_view_role_cannot_acknowledge(start_service: Starter) -> None:
    service = start_service("view")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("2")
        await pilot.pause(0.3)
        note = plain(app.screen.query_one("#alarm-role", Label))
        assert "needs the ops role; you are view" in note
        assert app.screen.check_action("acknowledge", ()) is None  # disabled in the footer
        await pilot.press("a")
        await pilot.pause(0.3)
        assert not any(r["cmd"] == "alarms.ack" for r in service.requests)
        # events are ops-only too: the table is hidden, the reason shown
        await pilot.press("3")
        await pilot.pause(0.3)
        assert "needs the ops role" in plain(app.screen.query_one("#event-note", Label))
        assert not app.screen.query_one(DataTable).display


@run_async
async def test_the_service_refuses_what_the_role_may_not_do(start_service: Starter) -> None:
    service = start_service("view")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connected)
        result = await app.call_or_notify("alarms.ack", {"id": "node-1/temp:limits"})
        assert result is None  # refused, and said so in a toast
        await pilot.pause(0.1)
        assert any("needs role ops" in n.message for n in app._notifications)


@run_async
async def test_unlock_and_open_an_event(start_service: Starter) -> None:
    service = start_service("ops")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("3")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count > 0)
        assert "locked" in table_text(table)  # metadata only before unlock
        table.move_cursor(row=table.get_row_index("1"))  # the detection (record 1)
        await pilot.press("enter")  # opening asks for the passphrase first
        await until(pilot, lambda: app.screen.query("#passphrase"))
        app.screen.query_one("#passphrase", Input).value = "wrong"
        await pilot.press("enter")
        await until(pilot, lambda: "Wrong passphrase" in plain(
            app.screen.query_one("#unlock-error", Label)), tries=200)
        app.screen.query_one("#passphrase", Input).value = PASSPHRASE
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, EventDetailScreen)
                    and bool(app.screen.query("#event-body")), tries=200)
        await until(pilot, lambda: "sedan" in text_of(app, "#event-body"), tries=100)
        body = text_of(app, "#event-body")
        assert "sealed" in body and "drive" in body and "3 boxes" in body
        assert sum(isinstance(s, EventDetailScreen) for s in app.screen_stack) == 1
        await until(pilot, lambda: app.screen.query("#snapshot-image"))
        assert [e.what for e in app.session_key.log] == ["wrong passphrase", "unlocked"]
        await pilot.press("escape")
        await until(pilot, lambda: "sedan 0.47" in table_text(table))


@run_async
async def test_reconnects_after_a_service_restart(start_service: Starter) -> None:
    service = start_service("admin")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connected)
        service.stop()
        await until(pilot, lambda: app.connection.state == "away")
        await pilot.pause(0.3)
        assert "service away" in plain(app.screen.query_one("#connection-bar", Static))
        service.start()
        await until(pilot, lambda: app.connected, tries=200)
        assert "connected" in plain(app.screen.query_one("#connection-bar", Static))


@run_async
async def test_config_edit_shows_errors_inline_then_applies_after_diff(
    start_service: Starter,
) -> None:
    service = start_service("admin")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("6")
        area = app.screen.query_one(TextArea)
        await until(pilot, lambda: "north-gate" in area.text)
        area.load_text(area.text.replace("interval_s = 10.0", "interval_s = -1.0"))
        await pilot.pause(0.2)
        error = plain(app.screen.query_one("#config-error", Label))
        assert "line 5" in error and "health.interval_s" in error and "greater than 0" in error
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        assert not any(r["cmd"] == "config.apply" for r in service.requests)
        area.load_text(area.text.replace("interval_s = -1.0", "interval_s = 30.0"))
        await pilot.pause(0.2)
        assert plain(app.screen.query_one("#config-error", Label)) == ""
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen.query("#confirm"))
        diff = plain(app.screen.query_one(".dialog-body", Static))
        assert "-interval_s = 10.0" in diff and "+interval_s = 30.0" in diff
        await pilot.click("#confirm")
        await until(pilot, lambda: "interval_s = 30.0" in service.config_text)


@run_async
async def test_pair_a_node_after_a_confirm_step(start_service: Starter) -> None:
    service = start_service("admin")
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("4")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 3)
        assert app.screen.check_action("pair", ()) is None  # node-1 is paired already
        link = text_of(app, "#node-link")
        assert "bad_crc: 3" in link and "replayed: 1" in link
        table.move_cursor(row=2)
        await pilot.pause(0.1)
        await pilot.press("p")
        await until(pilot, lambda: app.screen.query("#confirm"))
        # the dialog names the uid the user checks against the node's label
        assert "uid E6614104" in plain(app.screen.query_one(".dialog-body", Static))
        await pilot.click("#confirm")
        await until(pilot, lambda: service.status["nodes"][2]["paired"])
        await until(pilot, lambda: app.live.status.nodes[2].paired)


@run_async
async def test_the_unlock_dialog_and_keys_screen_show_the_hint_they_are_given(
    start_service: Starter,
) -> None:
    service = start_service("ops")
    hint = "Demo site: the passphrase is “edgewarden demo passphrase”."
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False, unlock_hint=hint)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("3")
        await pilot.pause(0.2)
        await pilot.press("u")
        await until(pilot, lambda: app.screen.query("#passphrase"))
        assert plain(app.screen.query_one("#unlock-hint", Static)) == hint
        await pilot.press("escape")
        await pilot.press("8")
        await until(pilot, lambda: app.current_mode == "keys")
        assert plain(app.screen.query_one("#unlock-hint", Label)) == hint
    plain_app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with plain_app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: plain_app.connected)
        await pilot.press("3")
        await pilot.pause(0.2)
        await pilot.press("u")
        await until(pilot, lambda: plain_app.screen.query("#passphrase"))
        assert not plain_app.screen.query("#unlock-hint")  # a real site gives no hint
