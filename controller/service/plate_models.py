"""The plate-detector model a camera names (`plate_model`), opened for its plate reader.

Lives in the service because it joins two sibling packages: detect's detector and
decoders (a `.tflite`, or an `.onnx` behind the same interpreter interface) and the
plates reader's `PlateFinder`. A missing or unusable file is one line naming it.
"""

from __future__ import annotations

from pathlib import Path

from controller.config.labels import LabelMap
from controller.detect.detector import Detector, DetectorOptions
from controller.detect.thresholds import ScoreThresholds
from controller.plates.finder import PLATE_LABEL, PlateFinder

#: a plate model's one class, by class index 0
PLATE_LABELS = LabelMap(names={0: PLATE_LABEL}, offset=0)


def open_plate_finder(model: Path, threshold: float = 0.4, threads: int = 1) -> PlateFinder:
    """The finder of a plate model file (its class 0 is `plate`)."""
    detector = Detector.open(model, None, ScoreThresholds(threshold),
                             DetectorOptions(threads=threads), label_map=PLATE_LABELS)
    return PlateFinder(detector)
