"""Which text boxes at the ends of a plate's row stand on another field than the plate's.

Beside the registration a plate's row can hold a country band (the EU's blue strip with
its white `D`, `NL`, `PL`) or a sticker, which the text detector finds as boxes of their
own beside the characters' box, and the recogniser reads a character or two in each at a
fair confidence: the text alone cannot tell them from the plate's own. Their field can: a
plate's characters stand on one background colour, and a band or a sticker is another.
A box's background is its median colour (a glyph's strokes cover well under half of its
box); an end box whose background is further from that of the row's main run of
characters (its widest box) than half the contrast of those characters on it stands on
another field, nearer the ink than the plate, and is not part of the plate.

Pure: images in, counts out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: an end box whose background is further than this share of the glyphs' contrast
#: from the plate's background stands on another field: nearer the ink than the plate
FIELD_SHARE = 0.5
#: the share of a box's pixels, the furthest from its background, that are its glyphs
GLYPH_SHARE = 0.15


def field(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The background colour of a text box (its median, BGR) and the contrast of
    its glyph on it (the distance from the background that its furthest pixels reach)."""
    pixels = image.reshape(-1, 3).astype(np.float32)
    background = np.median(pixels, axis=0)
    distance = np.linalg.norm(pixels - background, axis=1)
    return background, float(np.quantile(distance, 1 - GLYPH_SHARE))


def _another_field(patch: tuple[np.ndarray, float], plate: tuple[np.ndarray, float]) -> bool:
    return float(np.linalg.norm(patch[0] - plate[0])) > FIELD_SHARE * plate[1]


def stray_boxes(lines: Sequence[np.ndarray]) -> tuple[int, int]:
    """How many of a row's text boxes (rectified, left to right) at its start and at its
    end stand on another field than its widest box, the plate's main run of characters
    (the detector often finds a country band or a sticker as a box of its own)."""
    if len(lines) < 2 or any(line.ndim != 3 or line.size == 0 for line in lines):
        return 0, 0
    widest = max(range(len(lines)), key=lambda i: lines[i].shape[1])
    plate = field(lines[widest])
    start = 0
    while start < widest and _another_field(field(lines[start]), plate):
        start += 1
    end = 0
    while len(lines) - 1 - end > widest \
            and _another_field(field(lines[len(lines) - 1 - end]), plate):
        end += 1
    return start, end
