"""The two-column "name  value" grid every detail pane draws (alarm, node, read, record)."""

from __future__ import annotations

from typing import Literal

from rich.table import Table


def detail_grid(value_overflow: Literal["fold", "ellipsis"] = "ellipsis") -> Table:
    """An empty grid: bold names that never wrap, then their values."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow=value_overflow)
    return table
