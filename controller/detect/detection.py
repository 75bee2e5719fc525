"""What a detector reports for one frame: boxes normalised to 0..1, labels resolved."""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax, normalised 0..1


@dataclass(frozen=True)
class Detection:
    """One detected object in one frame."""

    label: str
    score: float
    box: Box
    class_id: int = -1

    def to_json(self) -> dict[str, object]:
        return {
            "label": self.label,
            "score": round(self.score, 4),
            "box": [round(v, 4) for v in self.box],
        }


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when either is empty)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area_a = max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1])
    area_b = max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


def clip_box(box: Box) -> Box:
    """The box clamped to the frame, corners in order."""
    x0, y0, x1, y1 = (min(1.0, max(0.0, float(v))) for v in box)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
