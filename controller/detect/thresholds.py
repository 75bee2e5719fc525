"""Score thresholds: one per model, overridden per label."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controller.detect.detection import Detection
from controller.errors import UsageError


@dataclass(frozen=True)
class ScoreThresholds:
    """``default`` for every label unless ``per_label`` names it."""

    default: float = 0.5
    per_label: Mapping[str, float] = field(default_factory=dict)

    def for_label(self, label: str) -> float:
        return self.per_label.get(label, self.default)

    @property
    def lowest(self) -> float:
        return min([self.default, *self.per_label.values()])

    def keep(self, detections: Iterable[Detection]) -> list[Detection]:
        return [d for d in detections if d.score >= self.for_label(d.label)]


def parse_label_threshold(text: str) -> tuple[str, float]:
    """``LABEL=T`` from the command line."""
    label, sep, value = text.rpartition("=")
    if not sep or not label:
        raise UsageError(f"--label-threshold {text!r}: expected LABEL=T")
    try:
        threshold = float(value)
    except ValueError:
        raise UsageError(f"--label-threshold {text!r}: {value!r} is not a number") from None
    if not 0.0 <= threshold <= 1.0:
        raise UsageError(f"--label-threshold {text!r}: threshold must be in 0..1")
    return label, threshold
