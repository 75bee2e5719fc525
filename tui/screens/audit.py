"""Audit log: who did what, decrypted after unlock (admin); a row opens to its full record."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Label, Static

from tui.model import AuditEntry, Role, parse_audit_entry
from tui.screens.alarms import clock_text
from tui.screens.base import SiteModal, SiteScreen
from tui.secret import HandoutError, Locked
from tui.service_client import ServiceError, ServiceUnavailable
from tui.widgets.detail_grid import detail_grid

AUDIT_LIMIT = 200


class AuditScreen(SiteScreen):
    TITLE_TEXT = "Audit log"
    AUTO_FOCUS = "DataTable"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,o", "open_entry", "Open"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[AuditEntry] = []

    def compose_body(self) -> ComposeResult:
        yield Label("", id="audit-note", classes="role-note")
        yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("time (UTC)", "user", "uid", "command", "ok",
                                              "detail")
        super().on_mount()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.action_reload()

    def refresh_view(self, changed: set[str]) -> None:
        refusal = self.site.refusal(Role.ADMIN, "reading the audit log")
        note = self.query_one("#audit-note", Label)
        if refusal is None and not self.site.session_key.unlocked:
            refusal = "The audit log is history: unlock it on the Keys screen (8)."
        note.update(refusal or "")
        note.display = refusal is not None
        table = self.query_one(DataTable)
        selected = self.selected_entry()
        table.clear()
        for e in self.entries:
            table.add_row(clock_text(e.time), e.user, "" if e.uid is None else str(e.uid),
                          e.command, "yes" if e.ok else "refused", e.detail, key=str(e.id))
        if selected is not None and str(selected.id) in table.rows:
            table.move_cursor(row=table.get_row_index(str(selected.id)), animate=False)

    def selected_entry(self) -> AuditEntry | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((e for e in self.entries if str(e.id) == key), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_entry" and self.selected_entry() is None:
            return None
        return True

    def on_data_table_row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_open_entry()

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings()

    def action_open_entry(self) -> None:
        entry = self.selected_entry()
        if entry is not None:
            self.app.push_screen(AuditEntryDialog(entry))

    def action_reload(self) -> None:
        if (self.site.refusal(Role.ADMIN, "audit") is None and self.site.connected
                and self.site.session_key.unlocked):
            self._load()

    @work(exclusive=True, group="audit-load")
    async def _load(self) -> None:
        try:
            opened = await self.site.fetch_history({"kinds": ["audit"], "limit": AUDIT_LIMIT})
        except (HandoutError, ServiceError, ServiceUnavailable) as exc:
            self.notify(str(exc), title="Audit", severity="error")
            return
        except Locked:
            return
        self.entries = sorted((parse_audit_entry(r.meta, r.body) for r in opened),
                              key=lambda e: -e.time)
        self.refresh_view(set())


def render_audit_entry(entry: AuditEntry) -> Table:
    """Every field of the record, wrapped: what the row's detail column cuts off."""
    table = detail_grid("fold")
    table.add_row("record", f"#{entry.id}  {clock_text(entry.time)} UTC")
    table.add_row("who", entry.user + ("" if entry.uid is None else f"  (uid {entry.uid})"))
    table.add_row("what", entry.command)
    table.add_row("outcome", "ok" if entry.ok else "refused or failed")
    if entry.detail:
        table.add_row("detail", entry.detail)
    for key, value in entry.fields:
        if value != "" and key not in ("cmd", "action", "user", "uid", "detail"):
            table.add_row(key, value)
    return table


class AuditEntryDialog(SiteModal):
    """One audit record in full; Escape or Close goes back to the list."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "close", "Close")]

    def __init__(self, entry: AuditEntry) -> None:
        super().__init__()
        self.entry = entry

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="audit-entry"):
            yield Label(f"Audit record #{self.entry.id}: {self.entry.command}",
                        classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(render_audit_entry(self.entry), id="audit-entry-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", variant="primary", id="close")

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
