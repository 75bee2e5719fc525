"""Classical plate localisation: regions dense in vertical strokes, shaped like a plate.

Characters on a plate make a tight band of strong horizontal gradients; a black-hat
(dark on light) and a top-hat (light on dark) transform bring them out, a wide closing
joins them into a blob, and blobs shaped like a plate are the candidates, best first.
Cheap (a few ms on a downscaled frame), so the OCR runs only on a few small crops.
The OCR reads them in order and stops at the first sure read, so those that hold a row of
separate character-shaped marks (a plate's characters; a grille, a lamp or a bumper's edge
holds none, or far more) come first.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: the widths the frame is analysed at: small plates show at the first, large at the second
WORK_WIDTHS = (960, 400)
#: the height (px) a candidate is looked at to count its character-shaped marks
MARKS_HEIGHT = 32
#: a character-shaped mark: of this share of the candidate's height, no wider than
#: this many of its own heights, its pixels filling at least this share of its box
MARK_HEIGHT_SHARE = (0.35, 0.98)
MARK_MAX_ASPECT = 1.2
MARK_MIN_FILL = 0.15
#: marks on one row: centres within this share of the height of the row's median, and
#: heights within these factors of the median height
ROW_CENTRE_SHARE = 0.25
ROW_HEIGHT_FACTORS = (0.7, 1.3)
#: the marks a plate's row of characters makes (a plate holds 4 to 10; a row split by
#: the locator, or a character merged with the frame, shows one fewer, two lines more)
PLATE_MARKS = (3, 12)


@dataclass(frozen=True)
class Candidate:
    """A region that may hold a plate, in pixels of the full image, and its score."""

    x0: int
    y0: int
    x1: int
    y1: int
    score: float


def _iou(a: Candidate, b: Candidate) -> float:
    ix = max(0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter
    return inter / union if union else 0.0


def candidates(image: np.ndarray, limit: int = 6) -> list[Candidate]:
    """Up to `limit` plate-shaped regions of a BGR image: those holding a row of
    character-shaped marks first (`character_marks`), each kind highest stroke density
    first.

    On the shared US photos the read came from the first region for 114 of 222 in order
    of density alone, for 143 with the marks first: a middle photo's detector passes went
    from 2.8 to 1.8 and its recogniser runs from 2.1 to 1.5 (exact reads 194 -> 195; BR
    113 of 114 either way)."""
    h, w = image.shape[:2]
    full = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    found: list[Candidate] = []
    for width in WORK_WIDTHS:
        scale = min(1.0, width / w)
        gray = full if scale == 1.0 else cv2.resize(
            full, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        for op in (cv2.MORPH_BLACKHAT, cv2.MORPH_TOPHAT):
            found.extend(_join_neighbours(_blobs(gray, op, scale)))
    found.sort(key=lambda c: c.score, reverse=True)
    kept: list[Candidate] = []
    for cand in found:
        if all(_iou(cand, k) < 0.3 for k in kept):
            kept.append(cand)
        if len(kept) == limit:
            break
    # a stable sort: within each kind, the order of stroke density is kept
    kept.sort(key=lambda c: not PLATE_MARKS[0] <= character_marks(full, c) <= PLATE_MARKS[1])
    return kept


def character_marks(gray: np.ndarray, cand: Candidate) -> int:
    """How many character-shaped marks stand in one row in `cand`'s region of `gray`.

    The region is looked at `MARKS_HEIGHT` pixels high and split into ink and ground by
    Otsu's threshold, both ways round (dark characters on a light plate, or light on
    dark); the marks are the connected parts of about a character's height and shape, and
    those whose centres and heights agree with the marks' median make the row."""
    crop = gray[cand.y0:cand.y1, cand.x0:cand.x1]
    h, w = crop.shape[:2]
    if h < 4 or w < 8:
        return 0
    width = max(8, round(w * MARKS_HEIGHT / h))
    small = cv2.resize(crop, (width, MARKS_HEIGHT),
                       interpolation=cv2.INTER_AREA if h > MARKS_HEIGHT else cv2.INTER_LINEAR)
    _, ink = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return max(_marks_in_row(ink), _marks_in_row(cv2.bitwise_not(ink)))


def _marks_in_row(binary: np.ndarray) -> int:
    """The character-shaped connected parts of `binary` (white) that stand in one row."""
    height = binary.shape[0]
    _, _, stats, centres = cv2.connectedComponentsWithStats(binary, connectivity=8)
    tall = stats[1:, cv2.CC_STAT_HEIGHT].astype(np.float64)  # [0] is the background
    wide = stats[1:, cv2.CC_STAT_WIDTH]
    shaped = ((MARK_HEIGHT_SHARE[0] * height <= tall) & (tall <= MARK_HEIGHT_SHARE[1] * height)
              & (wide <= MARK_MAX_ASPECT * tall)
              & (stats[1:, cv2.CC_STAT_AREA] >= MARK_MIN_FILL * wide * tall))
    ys, hs = centres[1:, 1][shaped], tall[shaped]
    if len(hs) < 3:
        return len(hs)
    in_row = (np.abs(ys - np.median(ys)) < ROW_CENTRE_SHARE * height) \
        & (ROW_HEIGHT_FACTORS[0] * np.median(hs) <= hs) \
        & (hs <= ROW_HEIGHT_FACTORS[1] * np.median(hs))
    return int(in_row.sum())


def _join_neighbours(blobs: list[Candidate]) -> list[Candidate]:
    """Blobs side by side on one row joined (a dash or a badge splits a plate's line).

    In order of left edge, each blob takes in the first one to its right on its row and
    of about its height, and the scan starts again. A blob whose left edge is further
    right than three of the first's heights cannot be joined to it (the gap allowed is
    1.5 of the taller height, at most 1/0.6 of the first's), nor can any after it, so
    the inner scan stops there. After a join the scan starts again at the first blob
    whose reach takes in the grown one: the scans before it end short of it, as they did
    (its left edge is unchanged), so they still find nothing; a frame's hundreds of blobs
    cost a millisecond, not tens.
    """
    out = [(c.x0, c.y0, c.x1, c.y1, c.score) for c in sorted(blobs, key=lambda c: c.x0)]
    start = 0
    while (pair := _first_join(out, start)) is not None:
        i, j = pair
        ax0, ay0, ax1, ay1, ascore = out[i]
        _, by0, bx1, by1, bscore = out[j]
        # x0 stays ax0 (the smaller), so the list stays in order of x0
        out[i] = (ax0, min(ay0, by0), max(ax1, bx1), max(ay1, by1), max(ascore, bscore))
        del out[j]
        start = next((k for k in range(i) if out[k][2] + 3 * (out[k][3] - out[k][1]) > ax0),
                     i)
    return [Candidate(*c) for c in out]


def _first_join(out: list[tuple[int, int, int, int, float]], start: int
                ) -> tuple[int, int] | None:
    """The first pair (i >= start, j > i) of blobs on one row, of about one height and
    near enough to join, in the scan's order; None when there is none."""
    for i in range(start, len(out)):
        _, ay0, ax1, ay1, _ = out[i]
        ha = ay1 - ay0
        reach = ax1 + 3 * ha
        for j in range(i + 1, len(out)):
            bx0, by0, _, by1, _ = out[j]
            if bx0 >= reach:
                break  # the list is in order of x0: nothing further is near enough
            hb = by1 - by0
            overlap = (ay1 if ay1 < by1 else by1) - (ay0 if ay0 > by0 else by0)
            if overlap > 0.5 * (ha if ha < hb else hb) and 0.6 < ha / hb < 1.6 \
                    and bx0 - ax1 < 1.5 * (ha if ha > hb else hb):
                return i, j
    return None


def _stroke_strength(hat: np.ndarray) -> np.ndarray | None:
    """The magnitude of the horizontal gradient of an 8-bit image, scaled to a peak of 255
    (truncated to 8 bits); None for an image without any.

    The Sobel x-gradient of 8-bit pixels is a whole number within +-1020: taken in 16
    bits it is exact (and about twice as quick as in float32), and as float32 for the
    scaling it is the same number as if taken in float32."""
    grad = np.abs(cv2.Sobel(hat, cv2.CV_16S, 1, 0, ksize=3))
    peak = float(grad.max())
    if peak <= 0:
        return None
    scaled = grad.astype(np.float32)
    scaled *= 255.0 / peak
    return scaled.astype(np.uint8)


def _blobs(gray: np.ndarray, op: int, scale: float) -> list[Candidate]:
    hh, ww = gray.shape
    hat = cv2.morphologyEx(gray, op, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 7)))
    strokes = _stroke_strength(hat)
    if strokes is None:
        return []
    grad8 = cv2.GaussianBlur(strokes, (5, 5), 0)
    closed = cv2.morphologyEx(grad8, cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_RECT, (17, 5)))
    otsu, _ = cv2.threshold(closed, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    square = np.ones((3, 3), np.uint8)
    contours: list[np.ndarray] = []
    # a second, stricter level parts a plate from the weaker edges it touches (a boot lid)
    for level in (otsu, min(250.0, otsu * 2.0)):
        _, binary = cv2.threshold(closed, level, 255, cv2.THRESH_BINARY)
        binary = cv2.dilate(cv2.erode(binary, square, iterations=2), square, iterations=2)
        found, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        contours.extend(found)
    means = BoxMeans(grad8)
    out: list[Candidate] = []
    for contour in contours:
        x, y, bw, bh = cv2.boundingRect(contour)
        if bh < 6 or bw < 20 or not 1.3 <= bw / bh <= 8.0:
            continue
        if bw > ww * 0.9 or bh > hh * 0.5:
            continue
        density = means.mean(x, y, bw, bh) or 0.0  # (a contour's box is inside)
        fill = cv2.contourArea(contour) / float(bw * bh)
        score = max(0.0, density - _strokes_around(means, x, y, bw, bh)) * fill
        inv = 1.0 / scale
        out.append(Candidate(int(x * inv), int(y * inv), int((x + bw) * inv),
                             int((y + bh) * inv), score))
    return out


class BoxMeans:
    """Means of an 8-bit image over boxes, from its integral image.

    A frame has a few hundred blobs, each with its box and two strips to average: summed
    areas make each mean four look-ups. The sums of whole numbers are exact, so each mean
    is the one numpy's `mean` gives."""

    def __init__(self, image: np.ndarray) -> None:
        self._sums = cv2.integral(image, sdepth=cv2.CV_64F)
        self._height, self._width = image.shape[:2]

    def mean(self, x: int, y: int, bw: int, bh: int) -> float | None:
        """The mean over columns x..x+bw and rows y..y+bh (clipped to the image); None
        for a box with no pixel inside."""
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(self._width, x + bw), min(self._height, y + bh)
        if x1 <= x0 or y1 <= y0:
            return None
        s = self._sums
        total = s[y1, x1] - s[y0, x1] - s[y1, x0] + s[y0, x0]
        return float(total / ((x1 - x0) * (y1 - y0)))


def _strokes_around(means: BoxMeans, x: int, y: int, bw: int, bh: int) -> float:
    """The mean vertical-stroke density in strips half the box's height above and below.

    A plate's characters end at its band (above and below is the plate's blank margin,
    whose horizontal edges give no horizontal gradient), while bars, railings and grilles
    carry on past it: the strokes a band has in excess of its surroundings are its own.
    """
    half = max(1, bh // 2)
    strips = [means.mean(x, y - half, bw, half), means.mean(x, y + bh, bw, half)]
    inside = [m for m in strips if m is not None]  # None: the strip is outside the image
    return sum(inside) / len(inside) if inside else 0.0
