"""Events: detections and alarm history by time, camera, node and label; detail with snapshot."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Input, Label, Select, Static

from tui.event_rows import EventRow, event_rows
from tui.model import EventMeta, Role, event_metas
from tui.screens.alarms import clock_text
from tui.screens.base import SiteScreen
from tui.screens.dialogs import UnlockDialog
from tui.secret import HandoutError, Locked, OpenedRecord
from tui.service_client import ServiceError, ServiceUnavailable
from tui.widgets.detail_grid import detail_grid
from tui.widgets.picture import show_picture

RANGES: list[tuple[str, float | None]] = [
    ("last hour", 3600.0),
    ("last 24 h", 86400.0),
    ("last 7 days", 7 * 86400.0),
    ("all time", None),
]
SEAL_STYLE = {"verified": "green", "sealed": "green", "pending": "yellow", "broken": "bold red"}
LIST_LIMIT = 500
DECRYPT_LIMIT = LIST_LIMIT  # every row listed can be read once unlocked
THUMB_SIZE = (24, 7)  # cells of the selected event's thumbnail (half blocks: 24 x 14 px)


def event_label(body: Mapping[str, Any]) -> str:
    """What a decrypted record is about in a few words (detection label or alarm change)."""
    if "label" in body:
        score = body.get("score", body.get("best_score"))  # a start's score, an end's best
        return f"{body['label']} {score:.2f}" if isinstance(score, float) else str(body["label"])
    if "event" in body and "to_state" in body:
        return f"{body['event']} → {body['to_state']}"
    return ", ".join(sorted(body))[:40]


def seal_text(state: str) -> Text:
    return Text(state, style=SEAL_STYLE.get(state, "dim"))


class EventsScreen(SiteScreen):
    TITLE_TEXT = "Events"
    AUTO_FOCUS = "#event-table"
    # the list is history, not live status: redrawn on lock and unlock, not per reading
    WATCHES = frozenset({"keys"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,o", "open_event", "Open"),
        Binding("r", "reload", "Reload"),
        Binding("u", "unlock", "Unlock"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.metas: tuple[EventMeta, ...] = ()
        self.bodies: dict[int, OpenedRecord] = {}
        self._loaded_once = False
        self._loaded_unlocked = False  # the rows shown were decrypted (history was open)
        self.rows: dict[str, EventRow] = {}  # by row key (the event's start record id)
        self.thumbs: dict[int, Text | None] = {}  # decoded thumbnails by record id

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="filters"):
            yield Select(RANGES, value=86400.0, allow_blank=False, id="event-range")
            yield Select([("events+alarms", "event,alarm"), ("detections", "event"),
                          ("alarms", "alarm")], value="event,alarm", allow_blank=False,
                         id="event-kind")
            yield Input(placeholder="camera/node", id="event-source")
            yield Input(placeholder="label", id="event-label")
        yield Label("", id="event-note", classes="role-note")
        with Horizontal(id="event-list"):
            yield DataTable(id="event-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="event-thumb", classes="panel")

    def on_mount(self) -> None:
        # what it is comes second: at 80 columns it stays in view beside the thumbnail
        self.query_one(DataTable).add_columns("time (UTC)", "what", "source", "sev", "kind",
                                              "seal")
        thumb = self.query_one("#event-thumb", Static)
        thumb.border_title = "Snapshot"
        thumb.display = False
        super().on_mount()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.action_reload()
        if self.focused is None:  # back from an event or a dialog: on the list again
            self.focus_home()

    def refresh_view(self, changed: set[str]) -> None:
        unlocked = self.site.session_key.unlocked
        if unlocked and not self._loaded_unlocked and self.metas:
            # unlocked anywhere (a dialog, the Keys screen, the palette): read the rows now
            self._loaded_unlocked = True
            self.action_reload()
        elif not unlocked and self.bodies:  # locked: what was decrypted is forgotten too
            self.bodies = {}
            self.thumbs = {}
            self._loaded_unlocked = False
        if not self._loaded_once and self.site.connected:
            self._loaded_once = True
            self.action_reload()
        self._draw()

    def _draw(self) -> None:
        refusal = self.site.refusal(Role.OPS, "browsing events")
        note = self.query_one("#event-note", Label)
        table = self.query_one(DataTable)
        table.display = refusal is None
        if refusal:
            self.query_one("#event-thumb").display = False
            note.update(refusal)
            return
        if not self.site.session_key.unlocked:
            note.update("History is locked: times and sources only. Press u to unlock.")
        else:
            note.update("")
        note.display = bool(note.content)
        label = self.query_one("#event-label", Input).value.strip().lower()
        selected = self.selected_meta()  # kept across reloads (and coming back from one)
        scroll_y = table.scroll_y
        table.clear()
        self.rows = {}
        for row in event_rows(self.metas, self.bodies):
            opened, meta = row.opened, row.meta
            what = event_label(opened.body) if opened else "locked"
            if label and (opened is None or label not in what.lower()):
                continue
            what_text = Text(what)
            if row.ongoing:
                what_text.append(" ● ongoing", style="bold yellow")
            table.add_row(clock_text(meta.time), what_text, meta.source, meta.severity,
                          meta.kind, seal_text(opened.meta.seal if opened else meta.seal),
                          key=str(meta.id))
            self.rows[str(meta.id)] = row
        if selected is not None and str(selected.id) in table.rows:
            table.move_cursor(row=table.get_row_index(str(selected.id)), animate=False,
                              scroll=False)
            table.scroll_to(y=scroll_y, animate=False, immediate=True)
        self._show_thumbnail()

    # ------------------------------------------------------------------ thumbnail
    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_thumbnail()

    def selected_row(self) -> EventRow | None:
        meta = self.selected_meta()
        return None if meta is None else self.rows.get(str(meta.id))

    def _show_thumbnail(self) -> None:
        """The selected event's snapshot beside the list; none while history is locked."""
        panes = self.query("#event-thumb").results(Static)
        pane = next(panes, None)
        if pane is None:  # a decode that finished while the app was closing the screen
            return
        row = self.selected_row()
        opened = row.opened if row is not None else None
        if (opened is None or opened.meta.kind != "event"
                or not self.site.session_key.unlocked):
            pane.display = False
            return
        pane.display = True
        data = opened.first_image()
        if data is None:
            pane.update(Text("event going on: no snapshot yet" if row and row.ongoing
                             else "no snapshot", style="dim"))
            return
        if opened.meta.id in self.thumbs:
            thumb = self.thumbs[opened.meta.id]
            pane.update(thumb if thumb is not None else Text("snapshot is no image", "red"))
            return
        pane.update(Text("decoding…", style="dim"))
        self._decode_thumbnail(opened)

    @work(exclusive=True, group="events-thumb")
    async def _decode_thumbnail(self, opened: OpenedRecord) -> None:
        from tui.widgets.thumbnail import render_thumbnail  # PIL: imported off the UI thread

        data = opened.first_image() or b""
        thumb = await asyncio.to_thread(render_thumbnail, data, opened.body.get("best_box"),
                                        *THUMB_SIZE)
        if not self.site.session_key.unlocked:
            return  # locked while decoding: nothing decrypted is kept
        self.thumbs[opened.meta.id] = thumb
        self._show_thumbnail()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "event-label":
            self._draw()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.action_reload()
        self.focus_home()  # Enter ends the filter: back to the list and its keys

    def on_select_changed(self, _event: Select.Changed) -> None:
        self.action_reload()

    # ------------------------------------------------------------------ loading
    def list_args(self) -> dict[str, Any]:
        span = self.query_one("#event-range", Select).value
        kind = self.query_one("#event-kind", Select).value
        # the service filters by kind before its limit (readings would crowd events out)
        args: dict[str, Any] = {"limit": LIST_LIMIT, "kinds": str(kind).split(",")}
        if isinstance(span, float):
            args["since"] = self.site.clock() - span
        return args

    def _shown(self, metas: tuple[EventMeta, ...]) -> tuple[EventMeta, ...]:
        """Events and alarms only (audit has its own screen), matching the source filter."""
        source = self.query_one("#event-source", Input).value.strip().lower()
        return tuple(m for m in metas if m.kind in ("event", "alarm")
                     and (not source or source in m.source.lower()))

    def action_reload(self) -> None:
        if self.site.refusal(Role.OPS, "browsing events") or not self.site.connected:
            self._draw()
            return
        self._load()

    @work(exclusive=True, group="events-load")
    async def _load(self) -> None:
        from controller.control.schema import EventHeader

        headers = await self.site.ask("events.list", list[EventHeader], self.list_args())
        if headers is None:
            return
        metas = self._shown(event_metas(headers))
        bodies: dict[int, OpenedRecord] = {}
        unlocked = self.site.session_key.unlocked
        if unlocked and metas:
            times = [m.time for m in metas]
            kinds = sorted({m.kind for m in metas})
            try:
                opened = await self.site.fetch_history(
                    {"since": min(times), "until": max(times), "kinds": kinds,
                     "limit": DECRYPT_LIMIT})
                bodies = {r.meta.id: r for r in opened}
            except (HandoutError, ServiceError, ServiceUnavailable) as exc:
                self.notify(str(exc), title="History", severity="error")
            except Locked:
                unlocked = False  # the list stays metadata-only
        self.metas, self.bodies = metas, bodies
        self._loaded_unlocked = unlocked
        self._draw()

    # ------------------------------------------------------------------ opening
    def selected_meta(self) -> EventMeta | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((m for m in self.metas if str(m.id) == key), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        refused = self.site.refusal(Role.OPS, "browsing events") is not None
        if action in ("open_event", "reload", "unlock") and refused:
            return None
        return not (action == "unlock" and self.site.session_key.unlocked)

    def on_data_table_row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_open_event()

    def action_unlock(self) -> None:
        def done(ok: bool | None) -> None:
            if ok:
                self.action_reload()

        self.app.push_screen(UnlockDialog(), done)

    def action_open_event(self) -> None:
        row = self.selected_row()
        if row is None:
            return
        meta = row.detail
        if self.site.session_key.unlocked:
            self.app.push_screen(EventDetailScreen(meta))
            return

        def then_open(ok: bool | None) -> None:
            if ok:
                self.app.push_screen(EventDetailScreen(meta))

        self.app.push_screen(UnlockDialog(), then_open)


def render_event_body(record: OpenedRecord) -> Table:
    table = detail_grid()
    meta = record.meta
    table.add_row("record", f"#{meta.id}  {meta.kind}  epoch {meta.epoch}")
    table.add_row("time", clock_text(meta.time))
    table.add_row("source", meta.source)
    table.add_row("seal", seal_text(meta.seal))
    body = record.body
    for key in ("label", "score", "camera", "zone", "start", "end", "event", "from_state",
                "to_state", "value", "user", "comment"):
        if key in body:
            value = body[key]
            if key in ("start", "end") and isinstance(value, int | float):
                value = clock_text(float(value))
            table.add_row(key, str(value))
    track = body.get("track")
    if isinstance(track, list) and track:
        table.add_row("track", f"{len(track)} boxes")
        for point in track[:8]:
            table.add_row("", " ".join(f"{v:.2f}" if isinstance(v, float) else str(v)
                                       for v in (point if isinstance(point, list) else [point])))
    return table


class EventDetailScreen(SiteScreen):
    """One decrypted record: its fields, the track, the seal state, and the snapshot."""

    TITLE_TEXT = "Event"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,backspace", "back", "Back")]

    def __init__(self, meta: EventMeta) -> None:
        super().__init__()
        self.meta = meta
        self.seq = meta.id

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="event-detail"):
            with VerticalScroll(id="event-fields", classes="panel"):
                yield Static("Decrypting…", id="event-body")
            yield Static("", id="event-snapshot", classes="panel")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#event-snapshot").border_title = "Snapshot"
        self._load()

    @work(exclusive=True, group="event-detail")
    async def _load(self) -> None:
        body = self.query_one("#event-body", Static)
        try:
            records = await self.site.fetch_history(
                {"since": self.meta.time, "until": self.meta.time, "kinds": [self.meta.kind],
                 "limit": 50})
        except (HandoutError, ServiceError, ServiceUnavailable) as exc:
            body.update(Text(str(exc), style="red"))
            return
        except Locked:
            body.update(Text("History is locked.", style="red"))
            return
        record = next((r for r in records if r.meta.id == self.seq), None)
        if record is None:
            body.update(Text(f"Record {self.seq} was not handed out (retention?).", style="red"))
            return
        body.update(render_event_body(record))
        data = record.first_image()
        holder = self.query_one("#event-snapshot", Static)
        if not data:
            holder.update(Text("no snapshot", style="dim"))
            return
        holder.update(Text("loading snapshot…", style="dim"))
        await show_picture(self.app, data, holder, self.query_one("#event-detail"),
                           widget_id="snapshot-image", box=record.body.get("best_box"),
                           refused="snapshot not shown",
                           not_an_image=Text("no snapshot", style="dim"))

    def action_back(self) -> None:
        self.app.pop_screen()
