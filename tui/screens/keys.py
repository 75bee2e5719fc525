"""Keys: unlock and lock history with the passphrase, auto-lock, verification key fingerprint."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from tui.model import Role
from tui.screens.base import SiteScreen
from tui.widgets.detail_grid import detail_grid


class KeysScreen(SiteScreen):
    TITLE_TEXT = "Keys"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+l", "lock_now", "Lock")]

    def compose_body(self) -> ComposeResult:
        with Vertical(id="keys", classes="panel"):
            yield Static(id="keys-state")
            yield Label("", id="keys-note", classes="role-note")
            with Horizontal(id="unlock-row"):
                yield Input(password=True, placeholder="passphrase", id="keys-passphrase")
                yield Button("Unlock", variant="primary", id="keys-unlock")
                yield Button("Lock", id="keys-lock")
            yield Label("", id="keys-error", classes="error")
            if self.site.unlock_hint:
                yield Label(self.site.unlock_hint, id="unlock-hint")
            yield Static(id="keys-log")

    def refresh_view(self, changed: set[str]) -> None:
        site = self.site
        key = site.session_key
        now = site.clock()
        table = detail_grid()
        table.add_row("history", "unlocked" if key.unlocked else "locked")
        table.add_row("auto-lock", f"after {key.idle_s / 60:g} min idle"
                      + (f" ({key.remaining(now):.0f} s left)" if key.unlocked else ""))
        fingerprint = site.live.status.store.verification_key_fingerprint or "—"
        table.add_row("verification key", fingerprint)
        self.query_one("#keys-state", Static).update(table)
        refusal = site.refusal(Role.OPS, "unlocking history")
        note = self.query_one("#keys-note", Label)
        note.update(refusal or "")
        note.display = refusal is not None
        self.query_one("#keys-unlock", Button).disabled = key.unlocked or refusal is not None
        self.query_one("#keys-passphrase", Input).disabled = key.unlocked or refusal is not None
        self.query_one("#keys-lock", Button).disabled = not key.unlocked
        log = Table(title="This session", box=None, padding=(0, 1), title_justify="left")
        log.add_column("time (UTC)")
        log.add_column("what")
        for entry in key.log[-8:]:
            log.add_row(datetime.fromtimestamp(entry.time, UTC).strftime("%H:%M:%S"), entry.what)
        self.query_one("#keys-log", Static).update(log)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "keys-unlock":
            self._submit()
        elif event.button.id == "keys-lock":
            self.action_lock_now()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self._submit()

    def _submit(self) -> None:
        field = self.query_one("#keys-passphrase", Input)
        if field.value:
            self.query_one("#keys-error", Label).update("Unlocking…")
            self.run_worker(self._unlock(field), exclusive=True, group="unlock")

    async def _unlock(self, field: Input) -> None:
        error = await self.site.unlock(field.value)
        field.value = ""
        self.query_one("#keys-error", Label).update(error or "")
        self.refresh_view(set())

    def action_lock_now(self) -> None:
        self.site.lock()
        self.refresh_view(set())
