"""A one-line-per-row table that draws exactly like `rich.table.Table`, several times faster.

The dashboard redraws its sensor table four times a second; as a Rich `Table` (every cell a
`Padding` around a `Text`, each rendered through the console) that one panel was about half
of the TUI's CPU. `FastTable` covers the shape the panels use (no box, one space of padding
each side, a bold header, no-wrap single-line cells, expanded to the full width) and renders
each cell with the same Rich primitives Rich's table uses, so the segments are the same
(tests/tui/test_fast_table.py checks that against Rich on generated tables). Anything
outside that shape (a cell with a line break or a tab, or a table wider than the space)
is handed to the equivalent Rich `Table`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from math import ceil

from rich.console import Console, ConsoleOptions, JustifyMethod, OverflowMethod, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

PADDING = 1  # each side, as Table(padding=(0, 1)) with pad_edge
_NEWLINE = Text("\n")


@dataclass(frozen=True)
class FastColumn:
    """The `Table.add_column` options FastTable understands (all columns are no-wrap)."""

    header: str
    justify: JustifyMethod = "left"
    overflow: OverflowMethod = "ellipsis"
    width: int | None = None
    max_width: int | None = None


def ratio_distribute(total: int, ratios: list[int]) -> list[int]:
    """Share `total` in proportion to `ratios`, rounding up as it goes (rich._ratio's way)."""
    total_ratio = sum(ratios)
    remaining = total
    shares = []
    for ratio in ratios:
        share = ceil(ratio * remaining / total_ratio) if total_ratio > 0 else remaining
        shares.append(share)
        total_ratio -= ratio
        remaining -= share
    return shares


class FastTable:
    """`Table(expand=True, box=None, padding=(0, 1), header_style=...)` of no-wrap columns."""

    def __init__(self, columns: Iterable[FastColumn], header_style: str = "bold") -> None:
        self.columns = tuple(columns)
        self.header_style = header_style
        self.rows: list[tuple[Text, ...]] = []

    def add_row(self, *cells: Text | str) -> None:
        """A row; strings are literal text (not console markup, unlike Rich's Table)."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(tuple(c if isinstance(c, Text) else Text(c) for c in cells))

    def rich_table(self) -> Table:
        """The same table as a Rich `Table`: the fallback, and the reference in tests."""
        table = Table(expand=True, box=None, padding=(0, PADDING), header_style=self.header_style)
        for column in self.columns:
            table.add_column(Text(column.header), justify=column.justify,
                             overflow=column.overflow,
                             no_wrap=True, width=column.width, max_width=column.max_width)
        for row in self.rows:
            table.add_row(*row)
        return table

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.rich_table())

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = self._render_fast(console, options)
        if lines is None:
            yield self.rich_table()
            return
        new_line = Segment.line()
        for line in lines:
            yield from line
            yield new_line

    # ------------------------------------------------------------------ the fast path
    def _simple(self) -> bool:
        return all("\n" not in cell.plain and "\t" not in cell.plain and cell.no_wrap is not False
                   for row in self.rows for cell in row)

    def _widths(self, max_width: int) -> list[int] | None:
        """Table._calculate_column_widths for this shape; None when it would have to shrink."""
        pad = 2 * PADDING
        headers = [Text(column.header) for column in self.columns]
        widths = []
        for index, column in enumerate(self.columns):
            if column.width is not None:
                measured = Measurement(column.width + pad, column.width + pad)
            else:
                cells = [headers[index], *(row[index] for row in self.rows)]
                widest = max(self._cell_width(cell, max_width) for cell in cells)
                measured = Measurement(widest, widest)
                if column.max_width is not None:
                    measured = measured.with_maximum(column.max_width + pad)
            widths.append(measured.with_maximum(max_width).maximum or 1)
        total = sum(widths)
        if total > max_width:
            return None
        if total < max_width:
            widths = [w + extra for w, extra in zip(widths, ratio_distribute(max_width - total,
                                                                               widths),
                                                     strict=True)]
        return widths

    @staticmethod
    def _cell_width(cell: Text, max_width: int) -> int:
        """Measurement.get(Padding(cell)).maximum, for a single-line cell."""
        pad = 2 * PADDING
        if max_width - pad < 1:
            return max_width
        text_width = min(cell.cell_len, max_width - pad)
        return min(text_width + pad, max_width)

    def _render_fast(
        self, console: Console, options: ConsoleOptions
    ) -> list[list[Segment]] | None:
        if not self.columns or not self._simple():
            return None
        widths = self._widths(options.max_width)
        if widths is None or min(widths) <= 2 * PADDING:
            return None
        header_style = console.get_style(self.header_style)
        rows = [(header_style, tuple(Text(c.header) for c in self.columns))]
        rows += [(Style.null(), row) for row in self.rows]
        lines = []
        for style, row in rows:
            line: list[Segment] = []
            for cell, column, width in zip(row, self.columns, widths, strict=True):
                rendered = self._render_cell(console, cell, column, width - 2 * PADDING, style)
                if rendered is None:
                    return None
                line.extend(rendered)
            lines.append(line)
        return lines

    @staticmethod
    def _render_cell(
        console: Console, cell: Text, column: FastColumn, width: int, style: Style
    ) -> list[Segment] | None:
        """A cell as Table renders Padding(cell) at `width` + padding under `style`."""
        wrapped = cell.wrap(
            console, width,
            justify=cell.justify or column.justify,
            overflow=cell.overflow or column.overflow,
            tab_size=8, no_wrap=True,
        )
        if len(wrapped) != 1:
            return None
        # joined like Text.__rich_console__ does: that is where the base style becomes a span
        segments = list(Segment.apply_style(_NEWLINE.join(wrapped).render(console), style))
        pad = Segment(" " * PADDING, style)
        return [pad, *Segment.adjust_line_length(segments, width, style=style), pad]
