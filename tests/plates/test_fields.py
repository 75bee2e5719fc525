"""A country band or a sticker beside a plate's characters is not part of the plate."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from controller.plates.fields import stray_boxes

WHITE, BLUE, YELLOW, INK = (235, 235, 235), (150, 50, 0), (40, 200, 230), (20, 20, 20)


def _box(text: str, background: tuple[int, int, int], ink: tuple[int, int, int] = INK,
         width_per_char: int = 26) -> np.ndarray:
    line = np.full((40, 8 + width_per_char * len(text), 3), background, np.uint8)
    cv2.putText(line, text, (4, 32), cv2.FONT_HERSHEY_DUPLEX, 1.0, ink, 2, cv2.LINE_AA)
    return line


def test_a_country_band_before_the_characters_is_dropped() -> None:
    assert stray_boxes([_box("D", BLUE, WHITE), _box("BMW1234", WHITE)]) == (1, 0)
    assert stray_boxes([_box("NL", BLUE, WHITE), _box("GV381X", YELLOW)]) == (1, 0)


def test_a_sticker_after_the_characters_is_dropped_and_the_plate_kept() -> None:
    assert stray_boxes([_box("10DTM", WHITE), _box("59", YELLOW)]) == (0, 1)
    assert stray_boxes([_box("D", BLUE, WHITE), _box("BMW", WHITE), _box("59", BLUE)]) \
        == (1, 1)


@pytest.mark.parametrize("background", [WHITE, YELLOW, (60, 60, 60)])
def test_boxes_of_one_plate_split_by_a_gap_are_all_kept(
        background: tuple[int, int, int]) -> None:
    ink = WHITE if background == (60, 60, 60) else INK  # light on dark plates too
    row = [_box("AB", background, ink), _box("123", background, ink),
           _box("CD", background, ink)]
    assert stray_boxes(row) == (0, 0)
    assert stray_boxes(row[:1]) == (0, 0)  # one box: nothing to compare with
