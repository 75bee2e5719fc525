"""`Panel`: a dashboard panel grows with its content even when layout requests overlap.

The race (seen as the sensor table cut to its header after a fast connect) is replayed
step by step with Textual's own internals, so the test does not depend on timing; a plain
`Static` fails the same steps, which is what makes the test mean something.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from tests.tui.conftest import run_async
from tui.widgets.panel import Panel


class TwoPanels(App[None]):
    def __init__(self, panel_class: type[Static]) -> None:
        super().__init__()
        self.panel_class = panel_class

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield self.panel_class("one line", id="grows")
            yield Static("a neighbour", id="neighbour")


async def height_after_overlapping_layouts(panel_class: type[Static]) -> int:
    app = TwoPanels(panel_class)
    async with app.run_test(size=(40, 30)) as pilot:
        await pilot.pause()
        grows = app.query_one("#grows", Static)
        neighbour = app.query_one("#neighbour", Static)
        grows.content = "still one line"  # its layout request is now pending...
        neighbour.content = "the neighbour changed"
        neighbour._check_refresh()  # ...when the neighbour's reaches the screen first
        app.screen._refresh_layout()  # and the screen reflows, measuring the old content
        grows.content = "\n".join(f"row {i}" for i in range(12))
        await pilot.pause()
        await pilot.pause()
        return grows.size.height


@run_async
async def test_panel_height_follows_new_content_after_an_overlapping_layout() -> None:
    assert await height_after_overlapping_layouts(Panel) == 12


@run_async
async def test_a_plain_static_keeps_the_stale_height_which_is_the_bug() -> None:
    # if this starts failing, Textual fixed it and Panel can go
    assert await height_after_overlapping_layouts(Static) == 1
