"""How a plate's line is prepared and its characters fitted: the characters' band, the
model's own choice of a letter or digit where a format fixes the kind."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from controller.plates.formats import formats_named
from controller.plates.ocr import ALNUM, LineRead
from controller.plates.reader import PlateReader, _character_band, _character_rows, _fit_read


def _line_with_state_name() -> tuple[np.ndarray, tuple[int, int]]:
    """A plate's face as the detector boxes it: frame, a small state name, tall characters
    (whose rows are returned)."""
    line = np.full((120, 420, 3), 225, np.uint8)
    cv2.rectangle(line, (4, 4), (415, 115), (40, 40, 40), 3)
    cv2.putText(line, "CALIFORNIA", (150, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (30, 30, 30), 1)
    cv2.putText(line, "7ABC123", (40, 88), cv2.FONT_HERSHEY_DUPLEX, 1.9, (20, 20, 20), 4)
    ink = np.flatnonzero((line[32:108, 20:400] < 100).any(axis=(1, 2))) + 32
    return line, (int(ink.min()), int(ink.max()) + 1)


def test_the_band_is_the_tallest_texts_rows_not_the_state_name() -> None:
    line, (ink_top, ink_bottom) = _line_with_state_name()
    top, bottom = _character_rows(line)
    assert top >= 26  # the state name (rows 14-25) is left out
    tall = ink_bottom - ink_top
    assert abs(top - ink_top) <= tall // 5 and abs(bottom - ink_bottom) <= tall // 5


def test_the_band_keeps_a_margin_and_leaves_a_line_without_text_whole() -> None:
    line, (ink_top, ink_bottom) = _line_with_state_name()
    band = _character_band(line)
    assert ink_bottom - ink_top < band.shape[0] < 0.75 * line.shape[0]
    blank = np.full((40, 120, 3), 200, np.uint8)
    assert _character_band(blank).shape == blank.shape


def _read(text: str, conf: list[float], other: list[tuple[str, float]]) -> LineRead:
    return LineRead(text, tuple(conf), tuple(other))


def test_where_the_format_wants_a_letter_the_models_own_letter_is_taken() -> None:
    """Torn between 0 and O where a Brazilian plate has a letter, the model's O at its
    probability scores above the look-alike table's flat penalty."""
    br = formats_named(["br"])
    conf = [1.0, 0.61, 1.0, 1.0, 1.0, 1.0, 1.0]
    other = [("1", 0.0), ("O", 0.39), ("6", 0.0), ("B", 0.0), ("Z", 0.0), ("Z", 0.0),
             ("I", 0.0)]
    fitted, mean = _fit_read([_read("J0G9221", conf, other)], br)
    assert fitted.text == "JOG9221" and fitted.format_name == "br"
    assert mean * fitted.factor == pytest.approx((6 + 0.39) / 7)


def test_without_the_models_letter_the_look_alike_table_still_fixes_the_position() -> None:
    br = formats_named(["br"])
    conf = [1.0, 0.99, 1.0, 1.0, 1.0, 1.0, 1.0]
    other = [("1", 0.0), ("D", 0.001), ("6", 0.0), ("B", 0.0), ("Z", 0.0), ("Z", 0.0),
             ("I", 0.0)]
    fitted, mean = _fit_read([_read("J0G9221", conf, other)], br)
    assert fitted.text == "JOG9221"
    assert mean * fitted.factor == pytest.approx(np.mean(conf) * 0.9)


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


def test_decoding_keeps_each_characters_best_twin_of_the_other_kind(
        reader: PlateReader) -> None:
    recogniser = reader._recogniser
    classes = 1 + max(c for cols in recogniser._columns for c in cols)
    steps = [("0", 0.6, "O", 0.35), (None, 0, None, 0), ("K", 0.9, "4", 0.05),
             ("K", 0.95, "1", 0.02)]
    probs = np.zeros((len(steps), classes + 1), np.float32)
    for t, (first, p1, second, p2) in enumerate(steps):
        probs[t, 0] = 1.0 - p1 - p2  # the CTC blank
        for ch, p in ((first, p1), (second, p2)):
            if ch is not None:
                probs[t, recogniser._columns[ALNUM.index(ch)][0]] = p
    read = recogniser.decode(probs)
    assert read.text == "0K"
    assert read.char_conf == pytest.approx((0.6, 0.95))
    assert [ch for ch, _ in read.other_kind] == ["O", "1"]  # K was surest at the last step
    assert [p for _, p in read.other_kind] == pytest.approx([0.35, 0.02])


def test_a_weak_extra_character_at_an_end_of_a_too_long_read_is_dropped() -> None:
    """A bolt left of a Brazilian plate read as a C: one character too many for the
    format, the least sure and below an even chance, at an end."""
    br = formats_named(["br"])
    conf = [0.47, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    fitted, mean = _fit_read([LineRead("CMYX3152", tuple(conf))], br)
    assert fitted.text == "MYX3152" and fitted.format_name == "br"
    assert mean == pytest.approx(np.mean(conf[1:]))


def test_a_too_long_read_keeps_a_sure_end_character_or_a_weak_middle_one() -> None:
    br = formats_named(["br"])
    sure = [0.8, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert _fit_read([LineRead("CMYX3152", tuple(sure))], br)[0].format_name is None
    middle = [0.9, 0.9, 1.0, 0.3, 1.0, 1.0, 1.0, 0.45]
    assert _fit_read([LineRead("CMYX3152", tuple(middle))], br)[0].format_name is None


def test_a_letter_the_format_never_issues_becomes_the_models_own_digit() -> None:
    """US states issue no O: an O the model doubted goes to its 0 at the model's own
    probability (above the table's flat penalty of the whole read)."""
    us = formats_named(["us"])
    conf = [1.0, 1.0, 0.55, 1.0, 1.0, 1.0]
    other = [("5", 0.0), ("4", 0.0), ("0", 0.44), ("8", 0.0), ("7", 0.0), ("4", 0.0)]
    fitted, mean = _fit_read([_read("SHOR7X", conf, other)], us)
    assert fitted.text == "SH0R7X" and fitted.format_name == "us"
    assert mean * fitted.factor == pytest.approx((5 + 0.44) / 6)


class _CountingRecogniser:
    """An unsure read of every variant, counting the inferences (so unsure that two
    agreeing reads do not yet decide the vote: the third is still read)."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self, line: np.ndarray, max_ratio: float = 12.0, min_width: int = 0) -> LineRead:
        self.calls += 1
        return LineRead("KJA407XY", (0.45,) * 8)


def test_a_line_as_wide_as_the_training_width_is_not_read_again_padded(
        reader: PlateReader, monkeypatch: pytest.MonkeyPatch) -> None:
    counting = _CountingRecogniser()
    monkeypatch.setattr(reader, "_recogniser", counting)
    crop = np.full((60, 460, 3), 200, np.uint8)
    box = np.array([[20, 10], [440, 10], [440, 50], [20, 50]], np.float32)
    fitted, _ = reader._read_group(crop, [box])
    assert fitted.text == "KJA407XY" and counting.calls == 2  # plain and border only
    narrow = np.array([[20, 10], [120, 10], [120, 50], [20, 50]], np.float32)
    counting.calls = 0
    reader._read_group(crop, [narrow])
    assert counting.calls == 3


def test_decoding_parts_the_groups_where_the_model_saw_a_dash_or_a_space(
        reader: PlateReader) -> None:
    recogniser = reader._recogniser
    separators = np.flatnonzero(recogniser._separators)
    steps = ["A", "Y", None, "-", None, "9", " ", "0", None, "0"]
    probs = np.zeros((len(steps), len(recogniser._separators)), np.float32)
    for t, ch in enumerate(steps):
        if ch is None:
            probs[t, 0] = 1.0  # the CTC blank: no parting
        elif ch in "- ":
            probs[t, separators[0] if ch == "-" else separators[-1]] = 1.0
        else:
            probs[t, recogniser._columns[ALNUM.index(ch)][0]] = 1.0
    read = recogniser.decode(probs)
    assert read.text == "AY900" and read.groups == (0, 0, 1, 2, 2)


@pytest.mark.parametrize("read,groups,want", [
    ("AY09034", (0, 0, 0, 1, 1, 1, 1), "AYO9034"),  # a 0 among letters (Brazil's grey)
    ("AB1O3CD", (0, 0, 1, 1, 1, 2, 2), "AB103CD"),  # an O among digits (France)
    ("YG9X2G", (0, 0, 0, 1, 1, 1), "YG9X2G"),  # a group that stays a mix: as read
    ("AY09034", (0,) * 7, "AY09034"),  # no groups seen
])
def test_without_a_format_a_plates_groups_fix_their_look_alikes(
        read: str, groups: tuple[int, ...], want: str) -> None:
    """Read with `generic` alone (no position fixed), the groups the model saw parted by a
    dash or a space are each of one kind: the odd look-alike in one takes its kind."""
    generic = formats_named(["generic"])
    conf = [0.95] * len(read)
    other = [("O" if ch == "0" else "0" if ch == "O" else "X", 0.3) for ch in read]
    fitted, _ = _fit_read([LineRead(read, tuple(conf), tuple(other), groups)], generic)
    assert fitted.text == want and fitted.format_name == "generic"
