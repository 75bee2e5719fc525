"""Plates: live plate reads with their verdict, the search of reads by plate, the register.

Live reads come as notices (verdict only); stored reads are listed from history and, once
history is unlocked, decrypted in this process: the plate text, the plate crop and the
vehicle snapshot (drawn as half-block thumbnails, decoded in a worker). The search
matches decrypted plates by part and by look-alike-aware distance, as the register
matches reads. The register tab lists the vehicle register (ops) and lets admins add,
change and remove entries through the service, which checks the role and audits them.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Input, Label, Select, Static, TabbedContent, TabPane

from controller.plates.register import Entry
from tui.live_state import PLATES
from tui.model import EventMeta, Role, event_metas
from tui.plate_reads import (
    LOCKED,
    PlateRead,
    merge_reads,
    read_from_meta,
    read_from_record,
    search_reads,
)
from tui.screens.base import SiteScreen
from tui.screens.dialogs import ConfirmDialog, UnlockDialog
from tui.screens.events import RANGES
from tui.secret import HandoutError, Locked
from tui.service_client import ServiceError, ServiceUnavailable
from tui.vehicle_replies import ReplyMismatch, add_args, parse_entry, parse_register
from tui.widgets.detail_grid import detail_grid

LIST_LIMIT = 500
CROP_SIZE = (24, 3)  # cells of the plate crop's thumbnail (half blocks: 24 x 6 px)
VEHICLE_SIZE = (24, 5)
#: a notice comes before its record is committed: read the records this long after
NOTICE_SETTLE_S = 1.0
NOTICE_RETRIES = 3
VERDICT_STYLE = {"allow": "green", "watch": "bold yellow", "deny": "bold red",
                 "unknown": "dim", "alarm": "yellow"}
LIST_STYLE = {"allow": "green", "watch": "yellow", "deny": "bold red"}
HISTORY_NEEDS = "plate history and the register"


def read_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%m-%d %H:%M:%S")


def verdict_text(verdict: str) -> Text:
    return Text(verdict, style=VERDICT_STYLE.get(verdict, "dim"))


def render_read(read: PlateRead | None, unlocked: bool) -> Table | Text:
    """What the side pane says of the selected read (under its thumbnails)."""
    if read is None:
        return Text("No read to show.", style="dim")
    table = detail_grid()
    if read.text is not None:
        table.add_row("plate", Text(read.text, style="bold"))
    elif read.verdict == LOCKED or unlocked:
        table.add_row("plate", Text("locked" if not unlocked else "not stored yet", "dim"))
    else:
        table.add_row("plate", Text("unlock (u) to read", "dim"))
    verdict = verdict_text(read.shown_verdict)
    if read.entry:
        verdict.append(f" {read.entry}")
    table.add_row("verdict", verdict)
    if read.matched and read.text is not None and read.matched != read.text:
        table.add_row("entry", f"{read.matched} (near)")
    seen = read.camera + (f" #{read.track_id}" if read.track_id >= 0 else "")
    table.add_row("camera", seen)
    if read.label:
        table.add_row("vehicle", read.label)
    if read.confidence is not None:
        table.add_row("conf", f"{read.confidence:.2f}")
    return table


def render_entry(entry: Entry | None) -> Text:
    if entry is None:
        return Text("The register is empty.", style="dim")
    text = Text.assemble((entry.plate, "bold"), " ", (entry.list, LIST_STYLE[entry.list]),
                         f" · alarm {entry.alarm_priority}")
    if entry.label:
        text.append(f" · {entry.label}")
    if entry.note:
        text.append(f"\n{entry.note}", style="dim")
    return text


class PlatesScreen(SiteScreen):
    TITLE_TEXT = "Plates"
    AUTO_FOCUS = "#plate-table"
    WATCHES = frozenset({PLATES, "keys"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,o", "open_read", "Open"),
        Binding("slash", "search", "Search"),
        Binding("u", "unlock", "Unlock"),
        Binding("r", "reload", "Reload"),
        Binding("v", "show_tab('register')", "Register"),
        Binding("l", "show_tab('reads')", "Reads"),
        Binding("a", "add_entry", "Add"),
        Binding("e", "edit_entry", "Change"),
        Binding("d,delete", "remove_entry", "Remove"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.metas: list[EventMeta] = []  # the stored reads listed (plaintext metadata)
        self.stored: list[PlateRead] = []  # the same reads: metadata only, or decrypted
        self.reads: dict[str, PlateRead] = {}  # the rows shown, by row key
        self.entries: tuple[Entry, ...] = ()
        self.thumbs: dict[tuple[str, str], Text | None] = {}  # (row key, crop|vehicle)
        self._loaded_once = False
        self._loaded_unlocked = False
        self._settle: Timer | None = None
        self._retries = 0

    def compose_body(self) -> ComposeResult:
        with TabbedContent(initial="reads", id="plate-tabs"):
            with TabPane("Reads", id="reads"):
                with Horizontal(id="plate-filters"):
                    yield Input(placeholder="/ search plates (part or near)",
                                id="plate-search", compact=True)
                    yield Select(RANGES, value=86400.0, allow_blank=False, id="plate-range",
                                 compact=True)
                yield Label("", id="plate-note", classes="role-note")
                with Horizontal(id="plate-list"):
                    yield DataTable(id="plate-table", cursor_type="row", zebra_stripes=True)
                    with Vertical(id="plate-side", classes="panel"):
                        yield Static("", id="plate-crop")
                        yield Static("", id="plate-info")
                        yield Static("", id="plate-vehicle")
            with TabPane("Register", id="register"):
                yield Label("", id="register-note", classes="role-note")
                yield DataTable(id="register-table", cursor_type="row", zebra_stripes=True)
                yield Static("", id="register-entry", classes="panel")

    def on_mount(self) -> None:
        self.query_one("#plate-table", DataTable).add_columns("time (UTC)", "camera", "plate",
                                                             "verdict")
        self.query_one("#register-table", DataTable).add_columns("plate", "list", "alarm",
                                                                "label")
        self.query_one("#plate-side").border_title = "Read"
        self.query_one("#register-entry").border_title = "Entry"
        super().on_mount()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.focused is None:
            self.focus_home()

    @property
    def tab(self) -> str:
        return self.query_one(TabbedContent).active or "reads"

    def focus_home(self) -> None:
        table = "#register-table" if self.tab == "register" else "#plate-table"
        self.query_one(table, DataTable).focus()

    # ------------------------------------------------------------------ redraw
    def refresh_view(self, changed: set[str]) -> None:
        site = self.site
        unlocked = site.session_key.unlocked
        if unlocked and not self._loaded_unlocked and (self.stored or site.live.plates):
            self._loaded_unlocked = True  # unlocked anywhere: read the stored reads now
            self.action_reload()
        elif not unlocked and any(r.text is not None for r in self.stored):
            # locked: what was decrypted is forgotten too
            self.stored = [read_from_meta(m) for m in self.metas]
            self.thumbs = {}
            self._loaded_unlocked = False
        if not self._loaded_once and site.connected:
            self._loaded_once = True
            self.action_reload()
        if PLATES in changed and unlocked:
            self._retries = 0
            self._settle_then_load()
        elif not changed and unlocked and self._loaded_unlocked and self._unjoined():
            self._settle_then_load()  # back on the screen: reads heard while away
        self._draw_reads()
        self._draw_register()
        self.refresh_bindings()

    def _settle_then_load(self) -> None:
        """Read the stored reads once the new ones are committed (one timer at a time)."""
        if self._settle is None:
            self._settle = self.set_timer(NOTICE_SETTLE_S, self._settled)

    def _settled(self) -> None:
        self._settle = None
        self._load_reads()

    def _draw_reads(self) -> None:
        site = self.site
        unlocked = site.session_key.unlocked
        refusal = site.refusal(Role.OPS, HISTORY_NEEDS)
        query = self.query_one("#plate-search", Input).value.strip()
        reads = merge_reads(site.live.plates, self.stored)
        if query and unlocked:
            self._search(reads, query)  # in a thread: hundreds of edit distances
            return
        if query:
            note = "Unlock (u) to search: plates are only in the encrypted records."
        elif refusal:
            note = refusal.replace(".", ": live verdicts only.", 1)
        elif not reads:
            note = "No plate reads in this range, none heard since the TUI started."
        elif not unlocked:
            note = "History is locked: verdicts only. Press u to unlock."
        else:
            note = ""
        self._fill(reads, set(), note)

    @work(exclusive=True, group="plates-search")
    async def _search(self, reads: list[PlateRead], query: str) -> None:
        found = await asyncio.to_thread(search_reads, reads, query)
        field = next(self.query("#plate-search").results(Input), None)
        if field is None or field.value.strip() != query or not self.site.session_key.unlocked:
            return  # typed on, locked, or closed meanwhile: a newer draw follows
        near = {r.row_key for r, d in found if d > 0}
        note = (f"{len(found)} read(s) match {query!r}"
                + (f" ({len(near)} near, ≈)" if near else "") + ".")
        self._fill([r for r, _ in found], near, note)

    def _fill(self, reads: list[PlateRead], near: set[str], note: str) -> None:
        """The list, its note and the side pane, keeping the selected read selected."""
        label = self.query_one("#plate-note", Label)
        label.update(note)
        label.display = bool(note)
        table = self.query_one("#plate-table", DataTable)
        selected = self.selected_read()
        table.clear()
        self.reads = {}
        for read in reads:
            plate = Text(read.text or ("—" if read.verdict != LOCKED else "locked"),
                         style="bold" if read.text else "dim")
            if read.row_key in near:
                plate.append(" ≈", style="yellow")
            table.add_row(read_time(read.time), read.camera, plate,
                          verdict_text(read.shown_verdict), key=read.row_key)
            self.reads[read.row_key] = read
        if selected is not None and selected.row_key in self.reads:
            table.move_cursor(row=table.get_row_index(selected.row_key), animate=False)
        self._show_read()

    def _draw_register(self) -> None:
        site = self.site
        refusal = site.refusal(Role.OPS, "the vehicle register")
        change = site.refusal(Role.ADMIN, "changing the register")
        note = self.query_one("#register-note", Label)
        table = self.query_one("#register-table", DataTable)
        table.display = refusal is None
        self.query_one("#register-entry").display = refusal is None
        message = refusal or (change.replace(".", ": read only.", 1) if change else "")
        note.update(message)
        note.display = bool(message)
        if refusal:
            return
        row = table.cursor_row
        table.clear()
        for e in self.entries:
            table.add_row(e.plate, Text(e.list, LIST_STYLE[e.list]), e.alarm_priority, e.label,
                          key=e.plate)
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1), animate=False)
        self._show_entry()

    # ------------------------------------------------------------------ the side pane
    def selected_read(self) -> PlateRead | None:
        table = self.query_one("#plate-table", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.reads.get(str(key))

    def selected_entry(self) -> Entry | None:
        table = self.query_one("#register-table", DataTable)
        if table.row_count == 0 or not table.display:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((e for e in self.entries if e.plate == key), None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "plate-table":
            self._show_read()
        else:
            self._show_entry()
        self.refresh_bindings()

    def _show_entry(self) -> None:
        panes = self.query("#register-entry").results(Static)
        pane = next(panes, None)
        if pane is not None:
            pane.update(render_entry(self.selected_entry()))

    def _show_read(self) -> None:
        """The selected read: its crop and vehicle thumbnails (after unlock) and details."""
        panes = self.query("#plate-info").results(Static)
        info = next(panes, None)
        if info is None:  # a decode that finished while the screen was closing
            return
        read = self.selected_read()
        unlocked = self.site.session_key.unlocked
        info.update(render_read(read, unlocked))
        crop = self.query_one("#plate-crop", Static)
        vehicle = self.query_one("#plate-vehicle", Static)
        if read is None or not unlocked or (read.crop is None and read.vehicle is None):
            crop.display = vehicle.display = False
            return
        missing = False
        for part, pane, data in (("crop", crop, read.crop), ("vehicle", vehicle, read.vehicle)):
            pane.display = data is not None
            if data is None:
                continue
            key = (read.row_key, part)
            if key in self.thumbs:
                thumb = self.thumbs[key]
                pane.update(thumb if thumb is not None else Text(f"{part}: no image", "red"))
            else:
                pane.update(Text("decoding…", style="dim"))
                missing = True
        if missing:
            self._decode_thumbnails(read)

    @work(exclusive=True, group="plates-thumb")
    async def _decode_thumbnails(self, read: PlateRead) -> None:
        from tui.widgets.thumbnail import render_thumbnail  # PIL: imported off the UI thread

        for part, data, size in (("crop", read.crop, CROP_SIZE),
                                 ("vehicle", read.vehicle, VEHICLE_SIZE)):
            if data is None or (read.row_key, part) in self.thumbs:
                continue
            thumb = await asyncio.to_thread(render_thumbnail, data, None, *size)
            if not self.site.session_key.unlocked:
                return  # locked while decoding: nothing decrypted is kept
            self.thumbs[(read.row_key, part)] = thumb
        self._show_read()

    # ------------------------------------------------------------------ loading
    def action_reload(self) -> None:
        if not self.site.connected or self.site.refusal(Role.OPS, HISTORY_NEEDS):
            self._draw_reads()
            self._draw_register()
            return
        self._load_reads()
        self._load_register()

    def _range_args(self) -> dict[str, Any]:
        span = self.query_one("#plate-range", Select).value
        args: dict[str, Any] = {"kinds": ["plate"], "limit": LIST_LIMIT}
        if isinstance(span, float):
            args["since"] = self.site.clock() - span
        return args

    @work(exclusive=True, group="plates-load")
    async def _load_reads(self) -> None:
        if self.site.refusal(Role.OPS, HISTORY_NEEDS) or not self.site.connected:
            return
        args = self._range_args()
        from controller.control.schema import EventHeader

        headers = await self.site.ask("events.list", list[EventHeader], args)
        if headers is None:
            return
        metas = [m for m in event_metas(headers) if m.kind == "plate"]
        stored = [read_from_meta(m) for m in metas]
        unlocked = self.site.session_key.unlocked
        if unlocked and metas:
            times = [m.time for m in metas]
            try:
                opened = await self.site.fetch_history(
                    {"since": min(times), "until": max(times), "kinds": ["plate"],
                     "limit": LIST_LIMIT})
                by_id = {r.meta.id: r for r in opened}
                stored = [(read_from_record(by_id[m.id]) if m.id in by_id else None)
                          or read_from_meta(m) for m in metas]
            except (HandoutError, ServiceError, ServiceUnavailable) as exc:
                self.notify(str(exc), title="Plates", severity="error")
            except Locked:
                unlocked = False
            if not self.site.session_key.unlocked:  # locked while this was decrypted
                unlocked, stored = False, [read_from_meta(m) for m in metas]
        self.metas, self.stored = metas, stored
        self._loaded_unlocked = unlocked
        self._draw_reads()
        if unlocked and self._unjoined() and self._retries < NOTICE_RETRIES:
            self._retries += 1  # a notice whose record was not committed yet
            self._settle_then_load()

    def _unjoined(self) -> bool:
        known = {r.key for r in self.stored}
        return any(n.key not in known for n in self.site.live.plates)

    @work(exclusive=True, group="plates-register")
    async def _load_register(self) -> None:
        if self.site.refusal(Role.OPS, "the vehicle register") or not self.site.connected:
            return
        result = await self.site.call_or_notify("vehicles.list")
        if result is None:
            return
        try:
            self.entries = parse_register(result)
        except ReplyMismatch as exc:
            self.notify(str(exc), title="Register", severity="error")
            return
        self._draw_register()

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.is_mounted:
            return True
        tab = self.tab
        if action == "show_tab":
            return parameters[0] != tab
        if action == "open_read":
            if tab != "reads":
                return False
            read = self.selected_read()
            return None if read is None or read.text is None else True
        if action in ("search", "unlock"):
            if tab != "reads":
                return False
            if self.site.refusal(Role.OPS, HISTORY_NEEDS) is not None:
                return None
            return not (action == "unlock" and self.site.session_key.unlocked)
        if action in ("add_entry", "edit_entry", "remove_entry"):
            if tab != "register":
                return False
            if self.site.refusal(Role.ADMIN, "changing the register") is not None:
                return None
            if action != "add_entry" and self.selected_entry() is None:
                return None
        if action == "reload" and self.site.refusal(Role.OPS, HISTORY_NEEDS) is not None:
            return None
        return True

    def on_tabbed_content_tab_activated(self, _event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.focus_home()
        self.refresh_bindings()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "plate-table":
            self.action_open_read()

    def action_open_read(self) -> None:
        """The selected read in full, with its pictures (decrypted reads only)."""
        read = self.selected_read()
        if read is None or read.text is None:
            return
        from tui.screens.plate_detail import PlateDetailScreen

        self.app.push_screen(PlateDetailScreen(read))

    def action_search(self) -> None:
        self.query_one("#plate-search", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "plate-search":
            self._draw_reads()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.focus_home()  # Enter ends the search: back to the list and its keys

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "plate-range" and self._loaded_once:
            self._load_reads()
            self.focus_home()  # a range picked: back to the list and its keys

    def action_unlock(self) -> None:
        def done(ok: bool | None) -> None:
            if ok:
                self.action_reload()

        self.app.push_screen(UnlockDialog(), done)

    def action_add_entry(self) -> None:
        self.run_worker(self._change_entry(None), group="plates-change")

    def action_edit_entry(self) -> None:
        entry = self.selected_entry()
        if entry is not None:
            self.run_worker(self._change_entry(entry), group="plates-change")

    async def _change_entry(self, entry: Entry | None) -> None:
        from tui.screens.vehicle_dialog import VehicleDialog

        new = await self.app.push_screen_wait(VehicleDialog(entry))
        if not isinstance(new, Entry):
            return
        await self._register_change("vehicles.add", add_args(new, replace=entry is not None),
                                    "{plate}: on the {list} list")

    def action_remove_entry(self) -> None:
        entry = self.selected_entry()
        if entry is not None:
            self.run_worker(self._remove(entry), group="plates-change")

    async def _remove(self, entry: Entry) -> None:
        body = Text.assemble("Remove ", (entry.plate, "bold"), f" from the {entry.list} list?",
                             f"\n\n{entry.label}" if entry.label else "")
        if not await self.app.push_screen_wait(ConfirmDialog("Remove vehicle", body, "Remove")):
            return
        await self._register_change("vehicles.remove", {"plate": entry.plate},
                                    "{plate}: removed from the {list} list")

    async def _register_change(self, cmd: str, args: dict[str, Any], said: str) -> None:
        """Send one register change; say what the service answered (`said` names the
        answered entry's plate and list), then reload the register."""
        result = await self.site.call_or_notify(cmd, args)
        if result is None:
            return
        try:
            entry = parse_entry(result, cmd)
        except ReplyMismatch as exc:
            self.notify(str(exc), title="Register", severity="error")
        else:
            self.notify(said.format(plate=entry.plate, list=entry.list), title="Register")
        self._load_register()

