"""A `Static` whose auto height always follows its content (the dashboard's panels)."""

from __future__ import annotations

from typing import Self

from textual.geometry import Region
from textual.widgets import Static


class Panel(Static):
    """`Static`, minus a stale height when a layout request lands on a pending one.

    Textual (8.2) caches a widget's box model under a layout counter that
    `refresh(layout=True)` bumps only when no layout is pending yet. If the screen reflows
    for another widget in between, the old height is cached under that counter, and new
    content that needs more lines is then clipped until something else forces a layout:
    on a fast connect the sensor table showed its header and no rows. Dropping the cached
    box model with every layout request makes the next reflow measure the content again.
    """

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        if layout:
            self._box_model_cache.clear()
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
