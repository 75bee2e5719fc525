"""Show a stored picture in a screen: decoded off the UI thread, mounted in place of its note.

The events detail (a detection's snapshot) and the plate detail (the crop and the vehicle)
show pictures the same way; PIL, NumPy and textual-image load on first use (~0.4 s), so
`image_support` is imported here only when a picture is shown.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rich.text import Text
from textual.app import App
from textual.widget import Widget
from textual.widgets import Static

from tui import terminal_graphics


async def show_picture(app: App[Any], data: bytes, note: Static, into: Widget, *,
                       widget_id: str, classes: str = "", box: Any = None,
                       refused: str = "not shown", not_an_image: Text | None = None) -> bool:
    """Decode `data` and mount its image widget in `into`, hiding `note`; else say why in
    `note` (`refused`: the terminal cannot show it; `not_an_image`: the bytes are none).
    True when the picture is shown."""
    from tui.widgets.image_support import UnsupportedTextualImage, load_snapshot

    graphics = terminal_graphics.headless() if app.is_headless else terminal_graphics.current()
    try:
        loaded = await asyncio.to_thread(load_snapshot, data, graphics, box)
    except UnsupportedTextualImage as exc:
        note.update(Text(f"{refused}: {exc}", style="red"))
        return False
    if loaded is None:
        note.update(not_an_image or Text("not an image", style="red"))
        return False
    widget_class, image = loaded
    note.display = False
    await into.mount(widget_class(image, id=widget_id, classes=classes))
    return True
