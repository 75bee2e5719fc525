"""Privacy masks: polygons in normalised (0..1) frame coordinates, blacked out (pure)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from controller.config.schema import polygon_problem
from controller.errors import UsageError

Point = tuple[float, float]
Polygon = tuple[Point, ...]


def polygon(points: Sequence[Sequence[float]], what: str) -> Polygon:
    """A polygon of [x, y] points, checked as the config schema declares (`what` names it)."""
    problem = polygon_problem(points)
    if problem is not None:
        raise UsageError(f"{what}: {problem}")
    return tuple((float(x), float(y)) for x, y in points)


def rasterise(polygons: Sequence[Polygon], width: int, height: int) -> npt.NDArray[np.uint8]:
    """A mask of the frame size: 255 inside any polygon, 0 elsewhere."""
    mask = np.zeros((height, width), dtype=np.uint8)
    if polygons:
        pts = [
            np.round(np.array(p, dtype=np.float64) * [width - 1, height - 1]).astype(np.int32)
            for p in polygons
        ]
        cv2.fillPoly(mask, pts, 255)
    return mask


class PrivacyMask:
    """Blacks out the masked polygons of frames of any size (rasters cached per size)."""

    def __init__(self, polygons: Sequence[Polygon]) -> None:
        self.polygons = tuple(polygons)
        self._cache: dict[tuple[int, int], npt.NDArray[np.bool_]] = {}

    @classmethod
    def from_config(cls, masks: Sequence[Sequence[Sequence[float]]],
                    camera: str = "camera") -> PrivacyMask:
        return cls([polygon(p, f"camera {camera!r} privacy mask {i}")
                    for i, p in enumerate(masks)])

    def __bool__(self) -> bool:
        return bool(self.polygons)

    def raster(self, width: int, height: int) -> npt.NDArray[np.bool_]:
        key = (width, height)
        if key not in self._cache:
            self._cache[key] = rasterise(self.polygons, width, height) > 0
        return self._cache[key]

    def apply(self, frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """The frame with masked pixels set to 0 (a copy; the input is not changed)."""
        if not self.polygons:
            return frame
        out = frame.copy()
        out[self.raster(frame.shape[1], frame.shape[0])] = 0
        return out
