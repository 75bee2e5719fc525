"""The snapshot widget (textual-image) and decoder (PIL), loaded on first use, off the UI thread.

textual-image, PIL and NumPy take ~0.45 s to import, and textual-image asks the terminal
about graphics while it is imported, which only works before Textual owns the tty. So
nothing imports this module at start-up: the Events detail view calls :func:`load_snapshot`
in a thread, and the import is handed the answer tui.terminal_graphics got at launch so it
asks nothing. How to hand it over differs by version: 0.13+ caches one `probe_terminal()`
result; 0.12 caches `get_cell_size()` and asks with `capture_terminal_response`, which is
refused while its modules are imported (they bind it then).
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tui.terminal_graphics import HALFCELL, KITTY, SIXEL, UNICODE, Graphics

if TYPE_CHECKING:
    from PIL import Image as PILImage
    from textual_image.widget._base import Image as BaseImage

__all__ = ["UnsupportedTextualImage", "decode_image", "image_widget_class", "load_snapshot"]

_IMPORT_LOCK = threading.Lock()


class UnsupportedTextualImage(RuntimeError):
    """This textual-image would ask the terminal at import in a way we cannot pre-answer."""


def decode_image(data: bytes) -> PILImage.Image | None:
    """A decoded snapshot, or None when the bytes are not an image PIL can read."""
    from PIL import Image as PILImage

    try:
        image = PILImage.open(io.BytesIO(data))
        image.load()
    except (OSError, ValueError, PILImage.DecompressionBombError):
        return None
    return image


@contextlib.contextmanager
def _answered(graphics: Graphics) -> Iterator[None]:
    """While textual-image's widget modules import, its terminal queries get our answer."""
    from textual_image import _terminal

    cell = _terminal.CellSize(graphics.cell_width, graphics.cell_height)
    probe_terminal = getattr(_terminal, "probe_terminal", None)
    capabilities = getattr(_terminal, "TerminalCapabilities", None)
    if probe_terminal is not None and capabilities is not None:  # 0.13 and later
        probe_terminal.__dict__["_result"] = capabilities(cell, sixel=graphics.sixel,
                                                          tgp=graphics.kitty)
        yield
        return
    original = getattr(_terminal, "capture_terminal_response", None)
    if original is None or not hasattr(_terminal, "get_cell_size"):
        raise UnsupportedTextualImage("unknown textual-image terminal probe")
    _terminal.get_cell_size.__dict__["_result"] = cell

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise _terminal.TerminalError("asked at launch (tui.terminal_graphics)")

    _terminal.capture_terminal_response = refuse
    try:
        yield
    finally:
        _terminal.capture_terminal_response = original


def image_widget_class(graphics: Graphics) -> type[BaseImage]:
    """textual-image's widget for `graphics.renderer`; the first call imports it (~0.4 s)."""
    with _IMPORT_LOCK, _answered(graphics):
        from textual_image import widget

    classes: dict[str, type[BaseImage]] = {
        SIXEL: widget.SixelImage, KITTY: widget.TGPImage,
        HALFCELL: widget.HalfcellImage, UNICODE: widget.UnicodeImage,
    }
    return classes[graphics.renderer]


def load_snapshot(
    data: bytes, graphics: Graphics, box: Any = None,
) -> tuple[type[BaseImage], PILImage.Image] | None:
    """Decode `data` and pick its widget class (run in a thread: imports PIL, textual-image).

    None when the bytes are no image. ``box`` (the detection, normalised x0, y0, x1, y1)
    is drawn on the decoded copy; the record's bytes stay as stored. The widget itself is
    made on the UI thread.
    """
    image = decode_image(data)
    if image is None:
        return None
    return image_widget_class(graphics), with_box(image, box)


def with_box(image: PILImage.Image, box: Any) -> PILImage.Image:
    """A copy of ``image`` with the detection box drawn in red (no box: the image)."""
    if not (isinstance(box, list | tuple) and len(box) == 4
            and all(isinstance(v, int | float) for v in box)):
        return image
    from PIL import ImageDraw

    copy = image.convert("RGB")  # always a new image
    w, h = copy.size
    x0, y0, x1, y1 = (min(1.0, max(0.0, float(v))) for v in box)
    width = max(2, round(min(w, h) / 120))
    ImageDraw.Draw(copy).rectangle((x0 * (w - 1), y0 * (h - 1), x1 * (w - 1), y1 * (h - 1)),
                                   outline=(255, 0, 0), width=width)
    return copy
