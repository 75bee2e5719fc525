"""`FastTable` draws what the equivalent `rich.table.Table` draws, character and style."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from tui.widgets.fast_table import FastColumn, FastTable, ratio_distribute

CHARS = st.sampled_from(list("abcxyz AB-_.:0123456789°▁▄█…界ü"))
STYLES = st.sampled_from(["", "green", "bold red", "dim", "cyan", "yellow on blue"])


@st.composite
def cells(draw: st.DrawFn) -> Text:
    text = Text(draw(st.text(CHARS, max_size=24)), style=draw(STYLES),
                justify=draw(st.sampled_from([None, None, "left", "right", "center"])))
    if text.plain and draw(st.booleans()):
        start = draw(st.integers(0, len(text.plain) - 1))
        text.stylize(draw(STYLES) or "italic", start, draw(st.integers(start, len(text.plain))))
    return text


@st.composite
def tables(draw: st.DrawFn) -> FastTable:
    columns = [
        FastColumn(draw(st.text(CHARS, min_size=1, max_size=10)),
                   justify=draw(st.sampled_from(["left", "right", "center"])),
                   overflow=draw(st.sampled_from(["ellipsis", "crop", "fold"])),
                   width=draw(st.one_of(st.none(), st.integers(1, 20))),
                   max_width=draw(st.one_of(st.none(), st.integers(1, 20))))
        for _ in range(draw(st.integers(1, 5)))
    ]
    table = FastTable(columns, header_style=draw(st.sampled_from(["bold", "bold magenta"])))
    for _ in range(draw(st.integers(0, 6))):
        table.add_row(*(draw(cells()) for _ in columns))
    return table


def styled_chars(renderable: object, width: int) -> list[list[tuple[str, Style]]]:
    """What a terminal would show: each line as (character, style) pairs."""
    console = Console(width=width, file=io.StringIO(), color_system="truecolor",
                      force_terminal=True, legacy_windows=False)
    lines = console.render_lines(renderable, console.options, pad=False)  # type: ignore[arg-type]
    return [[(ch, seg.style or Style.null()) for seg in line if not seg.control
             for ch in seg.text] for line in lines]


@settings(max_examples=300, deadline=None)
@given(tables(), st.integers(4, 140))
def test_fast_table_draws_like_rich(table: FastTable, width: int) -> None:
    assert styled_chars(table, width) == styled_chars(table.rich_table(), width)


def test_the_fast_path_is_taken_for_the_dashboard_shape() -> None:
    table = FastTable([FastColumn("node", max_width=16), FastColumn("value", justify="right")])
    table.add_row("boiler", Text("21.5 °C", style="green"))
    console = Console(width=60, file=io.StringIO())
    assert table._render_fast(console, console.options) is not None
    assert table._render_fast(Console(width=5, file=io.StringIO()), console.options.update_width(5)
                              ) is None  # too narrow: Rich's Table shrinks it instead


def test_strings_are_literal_not_markup() -> None:
    table = FastTable([FastColumn("node")])
    table.add_row("[bold]gate")
    assert "[bold]gate" in "".join(ch for ch, _ in styled_chars(table, 30)[1])


def test_ratio_distribute_shares_all_of_the_total() -> None:
    assert ratio_distribute(10, [1, 1, 2]) == [3, 3, 4]
    assert sum(ratio_distribute(7, [5, 9, 3, 12])) == 7


def test_segments_end_each_line() -> None:
    table = FastTable([FastColumn("a")])
    console = Console(width=10, file=io.StringIO())
    segments = list(console.render(table, console.options))
    assert segments.count(Segment.line()) == 1  # the header only
