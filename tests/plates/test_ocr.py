"""The OCR wrappers' shortcuts give exactly what the plain computation gives."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from controller.plates.locate import _stroke_strength
from controller.plates.ocr import (
    REC_MODEL,
    TextRecogniser,
    _mean_inside,
    default_model_dir,
)


def test_a_contours_mean_in_its_box_is_the_mean_over_the_whole_map() -> None:
    rng = np.random.default_rng(7)
    prob = cv2.GaussianBlur(rng.random((96, 320), dtype=np.float32), (0, 0), 4)
    mask = (prob > np.quantile(prob, 0.6)).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    assert len(contours) > 3
    for contour in contours:
        whole = np.zeros_like(mask)
        cv2.drawContours(whole, [contour], -1, 1, -1)
        assert _mean_inside(prob, contour) == float(prob[whole.astype(bool)].mean())


def test_the_16_bit_gradient_scales_to_what_the_float_one_does() -> None:
    rng = np.random.default_rng(3)
    edges = np.tile(np.array([0, 0, 255, 255], np.uint8), (40, 30))  # the steepest: 1020
    for image in (rng.integers(0, 256, (120, 200), dtype=np.uint8), edges,
                  cv2.GaussianBlur(rng.integers(0, 256, (90, 90), dtype=np.uint8), (7, 7), 2)):
        grad = np.abs(cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3))
        expected = (grad * (255.0 / float(grad.max()))).astype(np.uint8)
        assert np.array_equal(_stroke_strength(image), expected)
    assert np.abs(cv2.Sobel(edges, cv2.CV_32F, 1, 0, ksize=3)).max() == 1020
    assert _stroke_strength(np.full((20, 30), 9, np.uint8)) is None


class _CountingSession:
    """The recogniser's onnxruntime session, counting its runs."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.runs = inner, 0

    def run(self, outputs: Any, feed: dict[str, np.ndarray]) -> Any:
        self.runs += 1
        return self.inner.run(outputs, feed)


@pytest.fixture(scope="module")
def recogniser() -> TextRecogniser:
    return TextRecogniser(default_model_dir() / REC_MODEL)


def test_a_line_read_again_is_not_run_again_and_reads_the_same(
        recogniser: TextRecogniser, monkeypatch: pytest.MonkeyPatch) -> None:
    session = _CountingSession(recogniser._session)
    monkeypatch.setattr(recogniser, "_session", session)
    line = np.full((40, 160, 3), 230, np.uint8)
    cv2.putText(line, "KJA407", (6, 32), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (20, 20, 20), 3)
    first = recogniser.read(line)
    assert recogniser.read(line.copy()) == first and session.runs == 1
    # padded to a width the line already has: the same input
    assert recogniser.read(line, min_width=48) == first and session.runs == 1
    recogniser.read(line, min_width=320)  # padded wider: another input
    assert session.runs == 2
    line[0, 0] = 0  # one pixel differs: another input
    recogniser.read(line)
    assert session.runs == 3
