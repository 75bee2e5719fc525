"""Small dialogs shared by screens: confirm, shelve duration, number, passphrase."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import RenderableType
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select, Static

from tui.screens.base import SiteModal

SHELVE_DURATIONS: list[tuple[str, int]] = [
    ("15 minutes", 900),
    ("1 hour", 3600),
    ("4 hours", 4 * 3600),
    ("8 hours", 8 * 3600),
    ("24 hours", 24 * 3600),
]


class FormDialog(SiteModal):
    """A dialog with a form: Enter or the confirm button submits, Escape or Cancel dismisses
    with `CANCELLED`."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    CANCELLED: Any = None

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "confirm":
            self.dismiss(self.CANCELLED)
            return
        self._submit()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self._submit()

    def _submit(self) -> None:
        raise NotImplementedError

    def action_cancel(self) -> None:
        self.dismiss(self.CANCELLED)


class ConfirmDialog(SiteModal):
    """Yes/no with a body; dismisses True only on an explicit confirm."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, body: RenderableType, confirm_label: str = "Confirm") -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            yield Static(self._body, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self._confirm_label, variant="primary", id="confirm")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_cancel(self) -> None:
        self.dismiss(False)


class ShelveDialog(FormDialog):
    """Asks how long to shelve an alarm and why; dismisses (seconds, reason) or None."""


    def __init__(self, alarm_id: str) -> None:
        super().__init__()
        self._alarm_id = alarm_id

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Shelve {self._alarm_id}", classes="dialog-title")
            yield Select(SHELVE_DURATIONS, value=3600, allow_blank=False, id="duration")
            yield Input(placeholder="reason (required)", id="reason")
            yield Label("", id="shelve-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Shelve", variant="warning", id="confirm")
                yield Button("Cancel", id="cancel")

    def _submit(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.query_one("#shelve-error", Label).update("Give a reason for the shelve log.")
            return
        duration = self.query_one("#duration", Select).value
        self.dismiss((int(duration) if isinstance(duration, int) else 3600, reason))

class NumberDialog(FormDialog):
    """Asks for one positive number; dismisses the float or None."""


    def __init__(self, title: str, current: float | None, unit: str) -> None:
        super().__init__()
        self._title = title
        self._current = current
        self._unit = unit

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            value = "" if self._current is None else f"{self._current:g}"
            yield Input(value=value, placeholder=self._unit, type="number", id="number")
            yield Label("", id="number-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Set", variant="primary", id="confirm")
                yield Button("Cancel", id="cancel")

    def _submit(self) -> None:
        try:
            value = float(self.query_one("#number", Input).value)
        except ValueError:
            value = -1.0
        if not value > 0:
            message = f"Enter a positive number ({self._unit})."
            self.query_one("#number-error", Label).update(message)
            return
        self.dismiss(value)

class UnlockDialog(FormDialog):
    """Asks for the passphrase and unlocks history in a worker; dismisses True once open."""

    CANCELLED = False


    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Unlock history", classes="dialog-title")
            yield Static("History is decrypted here, in this process. The passphrase is "
                         "never sent to the service.", classes="dialog-body")
            if self.site.unlock_hint:
                yield Static(self.site.unlock_hint, id="unlock-hint", classes="dialog-body")
            yield Input(password=True, placeholder="passphrase", id="passphrase")
            yield Label("", id="unlock-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Unlock", variant="primary", id="confirm")
                yield Button("Cancel", id="cancel")

    def _submit(self) -> None:
        field = self.query_one("#passphrase", Input)
        if not field.value:
            return
        self.query_one("#unlock-error", Label).update("Unlocking…")
        self.run_worker(self._unlock(field), exclusive=True, group="unlock")

    async def _unlock(self, field: Input) -> None:
        error = await self.site.unlock(field.value)
        field.value = ""
        if error is None:
            self.dismiss(True)
        else:
            self.query_one("#unlock-error", Label).update(error)
