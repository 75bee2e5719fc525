"""Blurring faces and licence plates in snapshots before they leave for people who must
not see them (pure image work; OpenCV's shipped Haar cascades and the detector's boxes).

OpenCV 5 wheels no longer ship the cascades; then only the detector's boxes are used, and
an image without boxes is withheld from the bundle rather than shared unredacted.
Regions are pixelated to a coarse grid and then blurred, which unlike a light Gaussian
blur cannot be sharpened back into a recognisable face or plate.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

Box = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax normalised 0..1
Region = tuple[int, int, int, int]  # x, y, w, h in pixels
CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_russian_plate_number.xml")
_ENCODINGS = {"image/jpeg": ".jpg", "image/jpg": ".jpg", "image/png": ".png"}
_PAD = 0.08  # grow every region a little: detectors cut faces tight


@dataclass(frozen=True)
class RedactedImage:
    data: bytes
    regions: int
    methods: tuple[str, ...]


def is_redactable(content_type: str) -> bool:
    return content_type.lower() in _ENCODINGS


def boxes_in(body: Any) -> list[Box]:
    """Every normalised `"box": [x0, y0, x1, y1]` anywhere in an event record's body."""
    return list(_walk(body))


def _walk(node: Any) -> Iterator[Box]:
    if isinstance(node, dict):
        box = node.get("box")
        if (isinstance(box, list | tuple) and len(box) == 4
                and all(isinstance(v, int | float) for v in box)):
            x0, y0, x1, y1 = (float(v) for v in box)
            if 0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0:
                yield (x0, y0, x1, y1)
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@functools.lru_cache(maxsize=4)
def _cascade(name: str) -> Any:
    """The classifier, or None: OpenCV 5 wheels ship neither the class nor the XML files."""
    make = getattr(cv2, "CascadeClassifier", None)
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if make is None or folder is None:
        return None
    classifier = make(folder + name)
    return None if classifier.empty() else classifier


def cascades_available() -> bool:
    return all(_cascade(name) is not None for name in CASCADES)


def cascade_regions(image: np.ndarray) -> list[Region]:
    """Faces and plates found by OpenCV's shipped cascades."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    gray = cv2.equalizeHist(gray)
    found: list[Region] = []
    for name in CASCADES:
        classifier = _cascade(name)
        if classifier is None:
            continue
        hits = classifier.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=4,
                                               minSize=(16, 16))
        found.extend((int(x), int(y), int(w), int(h)) for x, y, w, h in hits)
    return found


def box_regions(boxes: Sequence[Box], width: int, height: int) -> list[Region]:
    out = []
    for x0, y0, x1, y1 in boxes:
        px0, py0 = int(x0 * width), int(y0 * height)
        px1, py1 = round(x1 * width), round(y1 * height)
        if px1 > px0 and py1 > py0:
            out.append((px0, py0, px1 - px0, py1 - py0))
    return out


def obscure(image: np.ndarray, regions: Sequence[Region]) -> np.ndarray:
    """A copy with every region pixelated (at most 8 blocks across) and blurred."""
    out = image.copy()
    height, width = out.shape[:2]
    for x, y, w, h in regions:
        px, py = int(w * _PAD), int(h * _PAD)
        x0, y0 = max(0, x - px), max(0, y - py)
        x1, y1 = min(width, x + w + px), min(height, y + h + py)
        if x1 <= x0 or y1 <= y0:
            continue
        roi = out[y0:y1, x0:x1]
        small = cv2.resize(roi, (max(1, min(8, x1 - x0)), max(1, min(8, y1 - y0))),
                           interpolation=cv2.INTER_AREA)
        coarse = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
        k = max(3, (min(x1 - x0, y1 - y0) // 4) | 1)
        out[y0:y1, x0:x1] = cv2.GaussianBlur(coarse, (k, k), 0)
    return out


def redact_image(data: bytes, content_type: str, boxes: Sequence[Box],
                 use_cascades: bool = True) -> RedactedImage:
    """The image re-encoded in its own format with every face, plate and box obscured."""
    ext = _ENCODINGS.get(content_type.lower())
    if ext is None:
        raise ValueError(f"cannot redact {content_type!r} media")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"media is not a decodable {content_type} image")
    height, width = image.shape[:2]
    regions = box_regions(boxes, width, height)
    methods = ["detector-boxes"] if boxes else []
    if use_cascades and cascades_available():
        regions.extend(cascade_regions(image))
        methods.append("opencv-haar")
    if not methods:
        raise ValueError("no detector boxes in the record and OpenCV's Haar cascades are "
                         "not available: cannot be redacted safely")
    ok, encoded = cv2.imencode(ext, obscure(image, regions))
    if not ok:
        raise ValueError(f"cannot re-encode redacted {content_type} image")
    return RedactedImage(encoded.tobytes(), len(regions), tuple(methods))
