"""An event's snapshot as a small half-block picture (rich Text), for the Events list.

Each cell is "▀" with the upper pixel as its colour and the lower one as its background,
so it shows in any terminal with colour and needs no graphics protocol. Decoding imports
PIL (slow the first time): call :func:`render_thumbnail` off the UI thread.
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text

from tui.widgets.image_support import decode_image, with_box

__all__ = ["render_thumbnail"]


def render_thumbnail(data: bytes, box: Any, width: int, height: int) -> Text | None:
    """``data`` fitted into ``width`` x ``height`` cells, the detection ``box`` drawn on a
    copy (the bytes stay as stored); None when they are no image."""
    image = decode_image(data)
    if image is None:
        return None
    picture = with_box(image.convert("RGB"), box)
    w, h = picture.size
    scale = min(width / w, 2 * height / h)
    cols, rows = max(1, round(w * scale)), max(2, round(h * scale / 2) * 2)
    raw = picture.resize((cols, rows)).tobytes()  # RGB, row by row
    pixels = [tuple(raw[i:i + 3]) for i in range(0, len(raw), 3)]
    text = Text(no_wrap=True, overflow="crop")
    for y in range(0, rows, 2):
        for x in range(cols):
            top, bottom = pixels[y * cols + x], pixels[(y + 1) * cols + x]
            text.append("▀", Style(color="rgb({},{},{})".format(*top),
                                   bgcolor="rgb({},{},{})".format(*bottom)))
        if y + 2 < rows:
            text.append("\n")
    return text
