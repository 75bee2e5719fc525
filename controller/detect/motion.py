"""Motion gate (pure): frame differencing on a small grey frame decides when to detect."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from controller.detect.detection import Box


@dataclass(frozen=True)
class MotionParams:
    """Sensitivity 0..1 (higher = smaller changes count) turned into two thresholds."""

    pixel_threshold: int
    area_fraction: float

    @classmethod
    def from_sensitivity(cls, sensitivity: float) -> MotionParams:
        s = min(1.0, max(0.0, sensitivity))
        return cls(pixel_threshold=round(6 + (1.0 - s) * 44),
                   area_fraction=0.0002 + (1.0 - s) * 0.02)


@dataclass(frozen=True)
class MotionResult:
    moving: bool
    changed_fraction: float
    box: Box | None = None  # normalised bounds of the changed pixels, when moving


class MotionDetector:
    """Compares each grey frame with the previous one; masked pixels never count."""

    def __init__(self, params: MotionParams,
                 excluded: npt.NDArray[np.bool_] | None = None) -> None:
        self.params = params
        self.excluded = excluded
        self._previous: npt.NDArray[np.uint8] | None = None

    def observe(self, grey: npt.NDArray[np.uint8]) -> MotionResult:
        blurred: npt.NDArray[np.uint8] = np.asarray(cv2.GaussianBlur(grey, (5, 5), 0))
        previous, self._previous = self._previous, blurred
        if previous is None or previous.shape != blurred.shape:
            return MotionResult(False, 0.0)
        changed = cv2.absdiff(blurred, previous) > self.params.pixel_threshold
        if self.excluded is not None and self.excluded.shape == changed.shape:
            changed &= ~self.excluded
            total = int(changed.size - np.count_nonzero(self.excluded))
        else:
            total = changed.size
        fraction = float(np.count_nonzero(changed)) / max(1, total)
        if fraction < self.params.area_fraction:
            return MotionResult(False, fraction)
        x, y, w, h = cv2.boundingRect(changed.astype(np.uint8))
        height, width = changed.shape
        box = (x / width, y / height, (x + w) / width, (y + h) / height)
        return MotionResult(True, fraction, box)


@dataclass
class DetectorGate:
    """Run the detector on motion, for ``hold_s`` after it, and while tracks still move."""

    hold_s: float = 1.0
    enabled: bool = True
    _last_motion: float | None = None
    _open: bool = False

    def decide(self, motion: bool, tracks_moving: bool, time: float) -> bool:
        if not self.enabled:
            self._open = True
            return True
        if motion:
            self._last_motion = time
        recent = self._last_motion is not None and time - self._last_motion <= self.hold_s
        self._open = motion or recent or (self._open and tracks_moving)
        return self._open
