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
    """Blobs side by side on one row joined (a dash or a badge splits a plate's line)."""
    out = sorted(blobs, key=lambda c: c.x0)
    joined = True
    while joined:
        joined = False
        for i, a in enumerate(out):
            for j in range(i + 1, len(out)):
                b = out[j]
                ha, hb = a.y1 - a.y0, b.y1 - b.y0
                overlap = min(a.y1, b.y1) - max(a.y0, b.y0)
                gap = b.x0 - a.x1
                if overlap > 0.5 * min(ha, hb) and 0.6 < ha / hb < 1.6 \
                        and gap < 1.5 * max(ha, hb):
                    out[i] = Candidate(min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1),
                                       max(a.y1, b.y1), max(a.score, b.score))
                    del out[j]
                    joined = True
                    break
            if joined:
                break
    return out


def _blobs(gray: np.ndarray, op: int, scale: float) -> list[Candidate]:
    hh, ww = gray.shape
    hat = cv2.morphologyEx(gray, op, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 7)))
    grad = np.abs(cv2.Sobel(hat, cv2.CV_32F, 1, 0, ksize=3))
    peak = float(grad.max())
    if peak <= 0:
        return []
    grad8 = cv2.GaussianBlur((grad * (255.0 / peak)).astype(np.uint8), (5, 5), 0)
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
        score = density * fill
        inv = 1.0 / scale
        out.append(Candidate(int(x * inv), int(y * inv), int((x + bw) * inv),
                             int((y + bh) * inv), score))
    return out
