"""One decrypted plate read: its fields, and the plate crop and vehicle snapshot drawn with
the terminal's graphics (Sixel, Kitty, or half blocks), decoded off the UI thread."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from tui.plate_reads import PlateRead
from tui.screens.alarms import clock_text
from tui.screens.base import SiteScreen
from tui.widgets.detail_grid import detail_grid
from tui.widgets.picture import show_picture


def render_read_fields(read: PlateRead) -> Table:
    table = detail_grid()
    table.add_row("plate", Text(read.text or "—", style="bold"))
    verdict = read.shown_verdict + (f" · {read.entry}" if read.entry else "")
    if read.priority:
        verdict += f" · alarm {read.priority}"
    table.add_row("verdict", verdict)
    if read.matched:
        table.add_row("entry", read.matched)
    table.add_row("time", clock_text(read.time))
    table.add_row("camera", read.camera + (f" track {read.track_id}"
                                           if read.track_id >= 0 else ""))
    if read.label:
        table.add_row("vehicle", read.label)
    if read.confidence is not None:
        table.add_row("confidence", f"{read.confidence:.2f}")
    if read.record_id is not None:
        table.add_row("record", f"#{read.record_id}")
    return table


class PlateDetailScreen(SiteScreen):
    TITLE_TEXT = "Plate read"
    WATCHES = frozenset({"keys"})
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,backspace", "back", "Back")]

    def __init__(self, read: PlateRead) -> None:
        super().__init__()
        self.read = read

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="plate-detail"):
            with VerticalScroll(id="plate-fields", classes="panel"):
                yield Static(render_read_fields(self.read), id="plate-body")
            with Vertical(id="plate-pictures"):
                with Vertical(id="plate-crop-box", classes="panel"):
                    yield Static("", id="plate-crop-note")
                with Vertical(id="plate-vehicle-box", classes="panel"):
                    yield Static("", id="plate-vehicle-note")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#plate-fields").border_title = "Read"
        self.query_one("#plate-crop-box").border_title = "Plate"
        self.query_one("#plate-vehicle-box").border_title = "Vehicle"
        self._load()

    @work(exclusive=True, group="plate-detail")
    async def _load(self) -> None:
        for part, data in (("crop", self.read.crop), ("vehicle", self.read.vehicle)):
            holder = self.query_one(f"#plate-{part}-note", Static)
            if not data:
                holder.update(Text("no picture", style="dim"))
                continue
            holder.update(Text("loading…", style="dim"))
            await show_picture(self.app, data, holder, self.query_one(f"#plate-{part}-box"),
                               widget_id=f"plate-{part}-image", classes="plate-image")

    def refresh_view(self, changed: set[str]) -> None:
        if not self.site.session_key.unlocked and self.is_current:
            self.app.pop_screen()  # locked (by hand or idle): the plate is not shown on

    def action_back(self) -> None:
        self.app.pop_screen()
