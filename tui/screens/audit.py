"""Audit log: who did what, decrypted after unlock (admin)."""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Label

from tui.model import AuditEntry, Role, parse_audit_entry
from tui.screens.alarms import clock_text
from tui.screens.base import SiteScreen
from tui.secret import HandoutError, Locked
from tui.service_client import ServiceError, ServiceUnavailable

AUDIT_LIMIT = 200


class AuditScreen(SiteScreen):
    TITLE_TEXT = "Audit log"
    AUTO_FOCUS = "DataTable"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "reload", "Reload")]

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
        table.clear()
        for e in self.entries:
            table.add_row(clock_text(e.time), e.user, "" if e.uid is None else str(e.uid),
                          e.command, "yes" if e.ok else "refused", e.detail)

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
