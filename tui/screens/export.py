"""Evidence export: the engine is its own issue; until it lands this screen only says so."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from tui.screens.base import SiteScreen

NOT_YET = (
    "Evidence export is not available in this version yet.\n\n"
    "The export engine (BagIt bundle on a USB stick, signed manifest, verification) is its "
    "own issue. When it lands, this screen will let you choose a time range and sources, "
    "see the size estimate, pick a detected USB stick, follow the progress and read the "
    "verification result."
)


class ExportScreen(SiteScreen):
    TITLE_TEXT = "Evidence export"

    def compose_body(self) -> ComposeResult:
        yield Static(NOT_YET, id="export-note", classes="panel")
