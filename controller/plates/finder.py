"""Where the plates are, from an optional plate-detector model (`PlateFinder`).

A YOLO-style `.tflite` or `.onnx` with a single `plate` class runs through the detect
package's detector and decoders; the service opens it (`service/plate_models.py`),
since plates and detect are siblings that do not import each other. Here is only what
the reader needs of it: labelled, normalised boxes turned into pixel boxes, best first.
Without a model, the reader finds plates with its classical locator and text detector.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

PixelBox = tuple[int, int, int, int]
#: the label of a plate model's one class
PLATE_LABEL = "plate"
#: a box smaller than this (pixels, either side) holds nothing readable
MIN_SIDE = 8


class Found(Protocol):
    """One detection as the detect package reports it (box normalised 0..1)."""

    @property
    def label(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def box(self) -> tuple[float, float, float, float]: ...


class BoxDetector(Protocol):
    """What the finder needs of a detector: labelled boxes of one BGR frame."""

    def detect(self, frame_bgr: np.ndarray) -> Sequence[Found]: ...


class PlateFinder:
    """Plate boxes in image pixels, best score first, from a plate-detector model."""

    def __init__(self, detector: BoxDetector) -> None:
        self._detector = detector

    def find(self, image: np.ndarray) -> list[PixelBox]:
        h, w = image.shape[:2]
        found = sorted((d for d in self._detector.detect(image) if d.label == PLATE_LABEL),
                       key=lambda d: d.score, reverse=True)
        boxes: list[PixelBox] = []
        for det in found:
            x0, y0, x1, y1 = det.box
            box = (round(x0 * w), round(y0 * h), round(x1 * w), round(y1 * h))
            if box[2] - box[0] >= MIN_SIDE and box[3] - box[1] >= MIN_SIDE:
                boxes.append(box)
        return boxes
