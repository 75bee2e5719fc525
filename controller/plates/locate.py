"""Classical plate localisation: regions dense in vertical strokes, shaped like a plate.

Characters on a plate make a tight band of strong horizontal gradients; a black-hat
(dark on light) and a top-hat (light on dark) transform bring them out, a wide closing
joins them into a blob, and blobs shaped like a plate are the candidates, best first.
Cheap (a few ms on a downscaled frame), so the OCR runs only on a few small crops.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: the widths the frame is analysed at: small plates show at the first, large at the second
WORK_WIDTHS = (960, 400)


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
    """Up to `limit` plate-shaped regions of a BGR image, highest stroke density first."""
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
    return kept


def _join_neighbours(blobs: list[Candidate]) -> list[Candidate]:
    """Blobs side by side on one row joined (a dash or a badge splits a plate's line).

    In order of left edge, each blob takes in the first one to its right on its row and
    of about its height, and the scan starts again. A blob whose left edge is further
    right than three of the first's heights cannot be joined to it (the gap allowed is
    1.5 of the taller height, at most 1/0.6 of the first's), nor can any after it, so
    the inner scan stops there: a frame's hundreds of blobs cost milliseconds, not tens.
    """
    out = [(c.x0, c.y0, c.x1, c.y1, c.score) for c in sorted(blobs, key=lambda c: c.x0)]
    joined = True
    while joined:
        joined = False
        for i, (ax0, ay0, ax1, ay1, ascore) in enumerate(out):
            ha = ay1 - ay0
            reach = ax1 + 3 * ha
            for j in range(i + 1, len(out)):
                bx0, by0, bx1, by1, bscore = out[j]
                if bx0 >= reach:
                    break  # the list is in order of x0: nothing further is near enough
                hb = by1 - by0
                overlap = min(ay1, by1) - max(ay0, by0)
                gap = bx0 - ax1
                if overlap > 0.5 * min(ha, hb) and 0.6 < ha / hb < 1.6 \
                        and gap < 1.5 * max(ha, hb):
                    # x0 stays ax0 (the smaller), so the list stays in order of x0
                    out[i] = (min(ax0, bx0), min(ay0, by0), max(ax1, bx1), max(ay1, by1),
                              max(ascore, bscore))
                    del out[j]
                    joined = True
                    break
            if joined:
                break
    return [Candidate(*c) for c in out]


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
    out: list[Candidate] = []
    for contour in contours:
        x, y, bw, bh = cv2.boundingRect(contour)
        if bh < 6 or bw < 20 or not 1.3 <= bw / bh <= 8.0:
            continue
        if bw > ww * 0.9 or bh > hh * 0.5:
            continue
        density = float(grad8[y:y + bh, x:x + bw].mean())
        fill = cv2.contourArea(contour) / float(bw * bh)
        score = max(0.0, density - _strokes_around(grad8, x, y, bw, bh)) * fill
        inv = 1.0 / scale
        out.append(Candidate(int(x * inv), int(y * inv), int((x + bw) * inv),
                             int((y + bh) * inv), score))
    return out


def _strokes_around(grad: np.ndarray, x: int, y: int, bw: int, bh: int) -> float:
    """The mean vertical-stroke density in strips half the box's height above and below.

    A plate's characters end at its band (above and below is the plate's blank margin,
    whose horizontal edges give no horizontal gradient), while bars, railings and grilles
    carry on past it: the strokes a band has in excess of its surroundings are its own.
    """
    half = max(1, bh // 2)
    strips = [grad[max(0, y - half):y, x:x + bw], grad[y + bh:y + bh + half, x:x + bw]]
    means = [float(s.mean()) for s in strips if s.size]
    return sum(means) / len(means) if means else 0.0
