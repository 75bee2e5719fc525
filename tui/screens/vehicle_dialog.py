"""The register entry dialog of the Plates screen: plate, list, label, note and priority.

The entry is checked here as the service checks it (controller.plates.register), so a
bad plate or list is one line in the dialog rather than a refusal after the round trip;
the service checks again and stays the authority.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select

from controller.plates.register import LISTS, PRIORITIES, Entry, RegisterError, make_entry
from tui.screens.dialogs import FormDialog

LIST_CHOICES = [(name, name) for name in LISTS]
PRIORITY_CHOICES = [("the list's default", ""), *((p, p) for p in PRIORITIES)]


class VehicleDialog(FormDialog):
    """Add an entry, or change one (`entry` given: its plate stays); dismisses the Entry."""

    def __init__(self, entry: Entry | None = None) -> None:
        super().__init__()
        self._entry = entry

    def compose(self) -> ComposeResult:
        entry = self._entry
        title = f"Change {entry.plate}" if entry else "Add a vehicle to the register"
        with Vertical(classes="dialog", id="vehicle-dialog"):
            yield Label(title, classes="dialog-title")
            with Horizontal(classes="vehicle-row"):
                yield Label("plate", classes="vehicle-label")
                yield Input(value=entry.plate if entry else "", placeholder="e.g. ABC-123DE",
                            id="vehicle-plate", disabled=entry is not None, compact=True)
            with Horizontal(classes="vehicle-row"):
                yield Label("list", classes="vehicle-label")
                yield Select(LIST_CHOICES, value=entry.list if entry else "watch",
                             allow_blank=False, id="vehicle-list", compact=True)
            with Horizontal(classes="vehicle-row"):
                yield Label("label", classes="vehicle-label")
                yield Input(value=entry.label if entry else "", placeholder="e.g. stolen van",
                            id="vehicle-label", compact=True)
            with Horizontal(classes="vehicle-row"):
                yield Label("note", classes="vehicle-label")
                yield Input(value=entry.note if entry else "", placeholder="optional",
                            id="vehicle-note", compact=True)
            with Horizontal(classes="vehicle-row"):
                yield Label("alarm", classes="vehicle-label")
                yield Select(PRIORITY_CHOICES, value=entry.priority if entry else "",
                             allow_blank=False, id="vehicle-priority", compact=True)
            yield Label("", id="vehicle-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save" if entry else "Add", variant="primary", id="confirm")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        field = "#vehicle-label" if self._entry else "#vehicle-plate"
        self.query_one(field, Input).focus()

    def _submit(self) -> None:
        def value(selector: str) -> str:
            return self.query_one(selector, Input).value.strip()

        list_name = self.query_one("#vehicle-list", Select).value
        priority = self.query_one("#vehicle-priority", Select).value
        try:
            entry = make_entry(value("#vehicle-plate"), str(list_name), value("#vehicle-label"),
                               value("#vehicle-note"),
                               priority if isinstance(priority, str) else "")
        except RegisterError as exc:
            self.query_one("#vehicle-error", Label).update(str(exc))
            return
        self.dismiss(entry)
