"""Plate formats: normalisation, position-aware look-alike correction, unmatched reads."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.plates.formats import (
    DIGIT_TO_LETTER,
    FORMATS,
    LETTER_TO_DIGIT,
    UNMATCHED_FACTOR,
    PlateFormat,
    display,
    fit_formats,
    formats_named,
    normalise,
)

NG_GENERIC = formats_named(["ng", "generic"])
letters = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
digits = st.sampled_from("0123456789")


@st.composite
def nigerian(draw: st.DrawFn) -> str:
    """A valid Nigerian plate, normalised: three letters, three digits, two letters."""
    parts = [draw(letters) for _ in range(3)] + [draw(digits) for _ in range(3)] \
        + [draw(letters) for _ in range(2)]
    return "".join(parts)


@given(st.text(max_size=30))
def test_normalise_keeps_only_upper_case_letters_and_digits(raw: str) -> None:
    out = normalise(raw)
    assert all(ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" for ch in out)
    assert normalise(out) == out


@given(nigerian(), st.sampled_from(["", "-", " ", " - ", "."]))
def test_a_valid_nigerian_plate_fits_ng_unchanged_whatever_the_separator(
        plate: str, sep: str) -> None:
    fit = fit_formats(f"{plate[:3]}{sep}{plate[3:]}".lower(), NG_GENERIC)
    assert (fit.text, fit.format_name, fit.factor) == (plate, "ng", 1.0)


@given(nigerian(), st.data())
def test_look_alikes_are_corrected_where_the_format_fixes_the_position(
        plate: str, data: st.DataObject) -> None:
    """Letters misread as their digit twins and digits as letter twins come back right."""
    misread = list(plate)
    swapped = 0
    for i, ch in enumerate(plate):
        kind = "L" if i in (0, 1, 2, 6, 7) else "D"
        if kind == "L" and ch in DIGIT_TO_LETTER.values() and data.draw(st.booleans()):
            misread[i] = next(d for d, letter in DIGIT_TO_LETTER.items() if letter == ch)
            swapped += 1
        elif kind == "D" and data.draw(st.booleans()):
            twins = [letter for letter, d in LETTER_TO_DIGIT.items() if d == ch]
            if twins:
                misread[i] = data.draw(st.sampled_from(twins))
                swapped += 1
    fit = fit_formats("".join(misread), NG_GENERIC)
    assert fit.text == plate
    assert fit.format_name == "ng"
    assert fit.factor == pytest.approx(0.9 ** swapped)


def test_each_listed_look_alike_pair_is_corrected_both_ways() -> None:
    # letter positions: 0->O 1->I 8->B 5->S 2->Z 6->G
    assert fit_formats("018123DE", NG_GENERIC).text == "OIB123DE"
    assert fit_formats("526123DE", NG_GENERIC).text == "SZG123DE"
    # digit positions: O, D, Q -> 0; I -> 1; B -> 8; S -> 5; Z -> 2; G -> 6
    assert fit_formats("ABCODQXY", NG_GENERIC).text == "ABC000XY"
    assert fit_formats("ABCIBSXY", NG_GENERIC).text == "ABC185XY"
    assert fit_formats("ABCZG1XY", NG_GENERIC).text == "ABC261XY"


def test_a_position_no_look_alike_can_fix_falls_to_the_generic_format() -> None:
    fit = fit_formats("ABC12XDE", NG_GENERIC)  # X where a digit is due: no twin
    assert (fit.text, fit.format_name) == ("ABC12XDE", "generic")
    assert fit.factor < 1.0


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=11, max_size=20))
def test_a_read_fitting_no_format_is_kept_with_a_low_confidence(raw: str) -> None:
    fit = fit_formats(raw, NG_GENERIC)
    assert (fit.text, fit.format_name, fit.factor) == (raw, None, UNMATCHED_FACTOR)
    assert not fit.matched


def test_brazil_old_and_mercosul_plates_and_their_corrections() -> None:
    br = formats_named(["br"])
    assert fit_formats("AYO9034", br).text == "AYO9034"
    assert fit_formats("AY09034", br).text == "AYO9034"  # 0 in a letter position
    assert fit_formats("RIO2A18", br).format_name == "br"  # Mercosul LLLDLDD
    assert fit_formats("AYOS0S4", br).text == "AYO5054"  # fewer swaps than Mercosul


def test_a_country_format_beats_the_catch_all_and_an_earlier_format_wins_a_tie() -> None:
    assert fit_formats("ABC123DE", formats_named(["generic", "ng"])).format_name == "ng"
    twin = PlateFormat("twin", ("LLLDDDLL",))
    assert fit_formats("ABC123DE", (twin, FORMATS["ng"])).format_name == "twin"
    # an exact fit of a later country format beats a corrected fit of an earlier one
    loose = PlateFormat("loose", ("LLLDDDDD",))
    assert fit_formats("ABC12300", (loose, FORMATS["ng"])).format_name == "loose"
    assert fit_formats("ABC123OO", (loose, FORMATS["ng"])).format_name == "ng"


def test_a_word_or_a_number_weighs_less_than_a_letter_digit_mix() -> None:
    us = formats_named(["us"])
    assert fit_formats("7ABC123", us).factor == 1.0
    assert fit_formats("ARIZONA", us).factor < 1.0  # a state name
    assert fit_formats("20140428", us).factor < 1.0  # a date stamp


def test_a_letter_the_format_never_issues_is_read_as_its_digit_twin() -> None:
    us = formats_named(["us"])
    assert fit_formats("HKOE7C", us).text == "HK0E7C"
    assert fit_formats("HK0E7C", us).factor > fit_formats("HKOE7C", us).factor
    assert fit_formats("AYO9034", formats_named(["br"])).text == "AYO9034"  # BR issues O


def test_display_puts_the_dash_back_on_a_nigerian_plate() -> None:
    assert display("ABC123DE", "ng") == "ABC-123DE"
    assert display("AYO9034", "br") == "AYO9034"


def test_a_bad_template_or_an_unknown_format_name_is_refused() -> None:
    with pytest.raises(ValueError, match="may hold only"):
        PlateFormat("x", ("LLX",))
    with pytest.raises(ValueError, match="unknown plate format 'xx'"):
        formats_named(["ng", "xx"])
    assert set(FORMATS) >= {"ng", "generic", "br", "us"}
