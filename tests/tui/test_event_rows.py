"""The Events list shows one row per event (its start and end records joined), and a
thumbnail of the selected unlocked event's snapshot with its box; none while locked."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widgets import DataTable, Static

from tests.tui.conftest import run_async
from tests.tui.scripted_service import T0, History, ScriptedService, snapshot_jpeg
from tests.tui.test_events_list import unlock_on_keys_screen
from tests.tui.test_flows import table_text, text_of, until
from tui.app import EdgewardenApp
from tui.event_rows import event_rows
from tui.model import EventMeta
from tui.screens.events import EventDetailScreen
from tui.secret import OpenedRecord
from tui.widgets.thumbnail import render_thumbnail

Starter = Callable[..., ScriptedService]
CAR_START, CAR_END, TRUCK_START = 7, 8, 9  # record ids in History(live_events=True)


def live_site(service: ScriptedService) -> ScriptedService:
    service.handlers.history = History(live_events=True)
    return service


def record(seq: int, body: dict[str, object], kind: str = "event") -> OpenedRecord:
    return OpenedRecord(EventMeta(seq, T0 + seq, kind, "gate"), body)


def test_start_and_end_join_into_one_row() -> None:
    metas = [record(n, {}).meta for n in (5, 4, 3, 2, 1)]
    bodies = {
        1: record(1, {"phase": "start", "event_id": "a", "label": "car"}),
        2: record(2, {"phase": "start", "event_id": "b", "label": "bus"}),
        3: record(3, {"phase": "end", "event_id": "a", "label": "car"}),
        4: record(4, {"phase": "end", "event_id": "z", "label": "van"}),  # start not listed
        5: record(5, {"event": "raise", "to_state": "active_unack"}, kind="alarm"),
    }
    rows = event_rows(metas, bodies)
    assert [(r.meta.id, r.detail.id, r.ongoing) for r in rows] == [
        (5, 5, False), (4, 4, False), (2, 2, True), (1, 3, False)]
    # locked: no bodies, nothing can be joined, every record is listed
    assert [r.meta.id for r in event_rows(metas, {})] == [5, 4, 3, 2, 1]


def test_thumbnail_fits_and_shows_the_box_in_red() -> None:
    thumb = render_thumbnail(snapshot_jpeg(), [0.0, 0.0, 1.0, 1.0], 24, 7)
    assert thumb is not None
    lines = thumb.plain.split("\n")
    assert len(lines) <= 7 and max(len(line) for line in lines) <= 24
    first = thumb.spans[0].style  # the top left cell: on the box's edge
    assert "rgb(2" in str(first) and render_thumbnail(b"not a picture", None, 24, 7) is None
    plain_thumb = render_thumbnail(snapshot_jpeg(), None, 24, 7)
    assert plain_thumb is not None and "rgb(90,90,90)" in str(plain_thumb.spans[0].style)


def thumb_text(app: EdgewardenApp) -> str:
    pane = app.screen.query_one("#event-thumb", Static)
    content = pane.render()
    return content.plain if isinstance(content, Text) else str(content)


@run_async
async def test_one_row_per_event_and_a_thumbnail_once_unlocked(start_service: Starter) -> None:
    service = live_site(start_service("ops"))
    app = EdgewardenApp(service.socket_path, clock=lambda: T0, ticking=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("3")
        table = app.screen.query_one(DataTable)
        pane = app.screen.query_one("#event-thumb", Static)
        # locked: times and sources only, one row per record, no thumbnail
        await until(pilot, lambda: table.row_count == 5)
        table.move_cursor(row=table.get_row_index(str(CAR_START)))
        await pilot.pause(0.2)
        assert not pane.display
        await unlock_on_keys_screen(app, pilot)
        app.screen.set_focus(None)
        await pilot.press("3")
        await until(pilot, lambda: "locked" not in table_text(table), tries=200)
        assert table.row_count == 4  # sedan, alarm, car (start + end), truck
        assert str(CAR_END) not in table.rows
        car = table.get_row_index(str(CAR_START))
        assert "car 0.88" in " ".join(str(c) for c in table.get_row_at(car))
        truck = " ".join(str(c) for c in table.get_row_at(
            table.get_row_index(str(TRUCK_START))))
        assert "truck 0.52" in truck and "ongoing" in truck
        table.move_cursor(row=car)
        await until(pilot, lambda: pane.display and "▀" in thumb_text(app), tries=200)
        assert pane.region.right <= 80 and table.region.width >= 40  # beside the list
        table.move_cursor(row=table.get_row_index(str(TRUCK_START)))
        await until(pilot, lambda: "no snapshot yet" in thumb_text(app))
        table.move_cursor(row=car)
        await until(pilot, lambda: "▀" in thumb_text(app))  # from the cache
        # the car's row opens its end record: the one with the snapshot and the track
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, EventDetailScreen), tries=200)
        await until(pilot, lambda: "record" in text_of(app, "#event-body"), tries=200)
        assert f"#{CAR_END}" in text_of(app, "#event-body")
        assert "track" in text_of(app, "#event-body")
        await pilot.press("escape")
        await until(pilot, lambda: app.current_mode == "events"
                    and not isinstance(app.screen, EventDetailScreen))
        # locking hides the thumbnail and forgets the decoded ones
        await pilot.press("ctrl+l")
        await until(pilot, lambda: not pane.display and table.row_count == 5, tries=100)
        assert app.screen.thumbs == {}  # type: ignore[attr-defined]
