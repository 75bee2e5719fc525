"""The terminal image widget (textual-image), imported before Textual owns the terminal.

textual-image asks the terminal once, at import, whether it speaks Sixel or the Kitty
graphics protocol and falls back to half-block cells (or Unicode blocks when not on a
tty). Importing it here, from the app module, makes that probe happen before the app runs.
"""

from __future__ import annotations

import io

from PIL import Image as PILImage
from textual_image.widget import Image as TerminalImage

__all__ = ["TerminalImage", "decode_image"]


def decode_image(data: bytes) -> PILImage.Image | None:
    """A decoded snapshot, or None when the bytes are not an image PIL can read."""
    try:
        image = PILImage.open(io.BytesIO(data))
        image.load()
    except (OSError, ValueError, PILImage.DecompressionBombError):
        return None
    return image
