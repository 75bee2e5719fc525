"""Zones: polygons in normalised (0..1) frame coordinates (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from controller.camera.masks import Point, Polygon, polygon
from controller.detect.detection import Box

EVERYWHERE = "all"


def contains(poly: Polygon, x: float, y: float) -> bool:
    """Point in polygon by ray casting (points on an edge may go either way)."""
    inside = False
    n = len(poly)
    for i in range(n):
        x1, y1 = poly[i]
        x2, y2 = poly[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < cross:
                inside = not inside
    return inside


def anchor(box: Box) -> Point:
    """Where an object stands: the bottom centre of its box."""
    return ((box[0] + box[2]) / 2, box[3])


@dataclass(frozen=True)
class Zones:
    """Named zones; with none configured the whole frame is one zone, ``all``."""

    polygons: Mapping[str, Polygon]

    @classmethod
    def from_config(cls, zones: Mapping[str, Sequence[Sequence[float]]],
                    camera: str = "camera") -> Zones:
        return cls({name: polygon(pts, f"camera {camera!r} zone {name!r}")
                    for name, pts in zones.items()})

    def containing(self, box: Box) -> list[str]:
        """Names of the zones the object stands in."""
        if not self.polygons:
            return [EVERYWHERE]
        x, y = anchor(box)
        return [name for name, poly in self.polygons.items() if contains(poly, x, y)]
