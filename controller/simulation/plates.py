"""Synthetic Nigerian plates (`ABC-123DE`): the format rendered with OpenCV, warped,
blurred, noisy. The demo's gate camera plays scenes made here; the plate tests read them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np


def plate_image(text: str, width: int = 360, band: str = "") -> np.ndarray:
    """A plate: white, dark border, `text` (e.g. `ABC-123DE`) in black, BGR. `band`: a
    country code (`D`, `NL`) in white on a blue band at the left, as on EU plates."""
    height = width * 2 // 7
    plate = np.full((height, width, 3), 235, np.uint8)
    cv2.rectangle(plate, (3, 3), (width - 4, height - 4), (40, 40, 40), 3)
    font, thick = cv2.FONT_HERSHEY_DUPLEX, max(2, width // 90)
    left = _country_band(plate, band) if band else 0
    scale = 1.0
    (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
    scale = min(((width - left) * 0.85) / tw, (height * 0.55) / th)
    (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
    cv2.putText(plate, text, (left + (width - left - tw) // 2, (height + th) // 2), font,
                scale, (20, 20, 20), thick, cv2.LINE_AA)
    return plate


def _country_band(plate: np.ndarray, code: str) -> int:
    """An EU band drawn at the plate's left (a ring of stars over the country code);
    its right edge."""
    height, width = plate.shape[:2]
    right = width * 9 // 100
    cv2.rectangle(plate, (4, 4), (right, height - 5), (150, 50, 0), -1)
    cx, cy, r = (4 + right) // 2, height // 3, right // 3
    for k in range(12):
        angle = 2 * np.pi * k / 12
        cv2.circle(plate, (int(cx + r * np.cos(angle)), int(cy + r * np.sin(angle))),
                   max(1, width // 200), (0, 220, 255), -1)
    font, thick = cv2.FONT_HERSHEY_DUPLEX, max(1, width // 180)
    (tw, _), _ = cv2.getTextSize(code, font, 1.0, thick)
    scale = min((right - 4) * 0.7 / tw, height * 0.25 / 22)
    (tw, _), _ = cv2.getTextSize(code, font, scale, thick)
    cv2.putText(plate, code, (cx - tw // 2, height - height // 8), font, scale,
                (255, 255, 255), thick, cv2.LINE_AA)
    return right


def scene(text: str, seed: int = 0, size: tuple[int, int] = (1280, 720),
          plate_width: int = 200, tilt: float = 0.06, blur: int = 3,
          noise: float = 6.0, band: str = "") -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A frame with the plate on a vehicle-like block, and the plate's box (x0, y0, x1, y1)."""
    rng = np.random.default_rng(seed)
    w, h = size
    frame: np.ndarray = cv2.GaussianBlur(rng.integers(60, 120, (h, w, 3), dtype=np.uint8),
                                         (0, 0), 8)
    body_x, body_y = w // 4, h // 3
    cv2.rectangle(frame, (body_x, body_y), (body_x + w // 2, body_y + h // 2),
                  (int(rng.integers(30, 200)), 60, 90), -1)
    plate = plate_image(text, plate_width * 2, band)
    ph, pw = plate.shape[:2]
    x0 = w // 2 - plate_width // 2
    y0 = body_y + h // 4
    dst_w, dst_h = plate_width, plate_width * ph // pw
    shift = tilt * dst_h * 2
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    dst = np.array([[x0, y0 + shift], [x0 + dst_w, y0], [x0 + dst_w, y0 + dst_h],
                    [x0, y0 + dst_h + shift]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(plate, matrix, (w, h))
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), matrix, (w, h))
    frame[mask > 0] = warped[mask > 0]
    if blur > 1:
        frame = cv2.GaussianBlur(frame, (blur | 1, blur | 1), 0)
    frame = np.clip(frame + rng.normal(0, noise, frame.shape), 0, 255).astype(np.uint8)
    box = (x0, y0, x0 + dst_w, int(y0 + dst_h + shift))
    return frame, box


def two_line_plate(top: str, bottom: str, width: int = 300) -> np.ndarray:
    """A two-line plate (e.g. a motorcycle's), BGR, on a dark surround."""
    height = width * 2 // 3
    plate = np.full((height, width, 3), 235, np.uint8)
    cv2.rectangle(plate, (3, 3), (width - 4, height - 4), (40, 40, 40), 3)
    font, thick = cv2.FONT_HERSHEY_DUPLEX, max(2, width // 70)
    for text, row in ((top, 0), (bottom, 1)):
        (tw, th), _ = cv2.getTextSize(text, font, 1.0, thick)
        scale = min(width * 0.8 / tw, height * 0.3 / th)
        (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
        y = int(height * (0.42 if row == 0 else 0.85))
        cv2.putText(plate, text, ((width - tw) // 2, y), font, scale, (20, 20, 20), thick,
                    cv2.LINE_AA)
    frame = np.full((height + 80, width + 80, 3), 70, np.uint8)
    frame[40:40 + height, 40:40 + width] = plate
    return frame


def write_gate_frames(folder: Path, plates: Sequence[str], size: tuple[int, int] = (640, 360),
                      plate_width: int = 130) -> Path:
    """A gate camera's image folder: each vehicle (one plate each, a different seed, tilt
    and blur) drives in from the right, stops, drives off to the left, and the gate stays
    empty a moment before the next one. Played looped by the demo's gate camera."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    w, h = size
    empty = np.full((h, w, 3), 90, np.uint8)
    step = w // 10
    # per vehicle: empty, driving in (dx to 0), stopped, driving off to the left
    path = [None] * 3 + [(7 - i) * step for i in range(8)] + [0, 0] + [-i * step
                                                                        for i in range(1, 5)]
    index = 0
    for n, text in enumerate(plates):
        vehicle, _ = scene(text, seed=n + 1, size=size, plate_width=plate_width,
                           tilt=0.03 + 0.02 * (n % 3), blur=3 + 2 * (n % 2), noise=4.0)
        for dx in path:
            image = empty if dx is None else cv2.warpAffine(
                vehicle, np.array([[1, 0, dx], [0, 1, 0]], np.float32), size,
                borderValue=(90, 90, 90))
            cv2.imwrite(str(folder / f"{index:04d}.jpg"), image,
                        [cv2.IMWRITE_JPEG_QUALITY, 92])
            index += 1
    return folder
