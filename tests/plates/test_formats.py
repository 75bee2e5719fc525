"""Plate formats: normalisation, position-aware look-alike correction, unmatched reads."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.config.plate_patterns import BUILTIN_PLATE_FORMATS, template_of
from controller.plates.formats import (
    CORRECTION_FACTOR,
    DEFAULT_FORMATS,
    DIGIT_TO_LETTER,
    DIGITS,
    FORMATS,
    LETTER_TO_DIGIT,
    LETTERS,
    UNMATCHED_FACTOR,
    UNMIXED_FACTOR,
    PlateFormat,
    display,
    fit_formats,
    formats_named,
    normalise,
    odd_one_out,
    relative_weights,
    site_formats,
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
    # US states issue no O: its 0 twin is the same glyph and makes no word a mix
    assert fit_formats("L0ADING", us).factor == UNMIXED_FACTOR
    assert fit_formats("HL0KTY1", us).factor == 1.0


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


# ------------------------------------------------------------------ a site's own formats
@st.composite
def site_pattern(draw: st.DrawFn) -> str:
    """A pattern as a site writes it: classes, separators, maybe one line break."""
    classes = draw(st.lists(st.sampled_from("LDA"), min_size=3, max_size=12))
    out = ""
    for i, cls in enumerate(classes):
        if i:
            out += draw(st.sampled_from(["", "", "-", " ", "."]))
        out += cls
    if draw(st.booleans()):
        at = draw(st.integers(1, len(out) - 1))
        if out[at - 1] in "LDA" and out[at] in "LDA":
            out = out[:at] + "/" + out[at:]
    return out


@given(site_pattern(), st.data())
def test_a_site_pattern_corrects_look_alikes_only_where_it_fixes_the_kind(
        pattern: str, data: st.DataObject) -> None:
    """A plate of the site's pattern read with look-alikes at fixed letter or digit
    positions comes back right; where the pattern allows either, nothing is swapped."""
    template = template_of(pattern)
    plate = "".join(data.draw(letters if cls == "L" else digits if cls == "D"
                              else st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
                    for cls in template)
    misread = list(plate)
    swapped = 0
    for i, (ch, cls) in enumerate(zip(plate, template, strict=True)):
        if cls == "L" and ch in DIGIT_TO_LETTER.values() and data.draw(st.booleans()):
            misread[i] = next(d for d, letter in DIGIT_TO_LETTER.items() if letter == ch)
            swapped += 1
        elif cls == "D" and data.draw(st.booleans()):
            twins = [letter for letter, d in LETTER_TO_DIGIT.items() if d == ch]
            if twins:
                misread[i] = data.draw(st.sampled_from(twins))
                swapped += 1
    formats = formats_named(["site"], {"site": pattern})
    fit = fit_formats("".join(misread), formats)
    assert (fit.text, fit.format_name) == (plate, "site")
    if set(template) != {"A"}:  # an all-either pattern also weighs a word or number less
        assert fit.factor == pytest.approx(CORRECTION_FACTOR ** swapped)


def test_a_ghanaian_plate_is_mangled_by_the_default_and_read_right_by_its_own_format() -> None:
    """Why a site needs its own pattern: ng turns GR-1234-20's digits into letters."""
    mangled = fit_formats("GR123420", NG_GENERIC)  # 1, 2 and 0 have letter twins
    assert (mangled.text, mangled.format_name) == ("GRI234ZO", "ng")
    gh = formats_named(["gh"], {"gh": "LL-DDDD-DD"})
    assert fit_formats("GRI234ZO", gh).text == "GR123420"
    assert fit_formats("GR-1234-20", gh).factor == 1.0


def test_several_patterns_make_one_format_and_separators_only_print() -> None:
    formats = site_formats({"ke": ["LLL DDDL", "LLL.DDD", "LLL-DDD"], "two": "LL/DDDD"})
    assert formats["ke"].templates == ("LLLDDDL", "LLLDDD")
    assert formats["two"].templates == ("LLDDDD",)
    assert fit_formats("KBZ 1234", formats_named(["ke"], {"ke": ["LLL DDDL", "LLL.DDD"]})
                       ).format_name is None  # KBZ1234: 7 long, last a digit
    assert fit_formats("KBZ 123A", tuple(formats.values())).text == "KBZ123A"


def test_a_site_format_built_in_code_is_checked_as_the_config_checks_it() -> None:
    with pytest.raises(ValueError, match="'ng' is a built-in format"):
        formats_named(["ng"], {"ng": "LLLDDDLL"})
    with pytest.raises(ValueError, match="'X' is not L"):
        site_formats({"gh": "LLX"})
    with pytest.raises(ValueError, match=r"unknown plate format 'gh' \(known: ng, br, us, "
                                         r"generic, ke\)"):
        formats_named(["gh"], {"ke": "LLLDDDL"})


def test_the_config_knows_the_built_in_names_and_the_default_stays_ng_then_generic() -> None:
    assert tuple(FORMATS) == BUILTIN_PLATE_FORMATS
    assert DEFAULT_FORMATS == ("ng", "generic")


def test_alone_the_catch_all_weighs_as_much_as_a_country_format() -> None:
    """Weights rank formats against each other: the catch-all keeps its lower weight beside
    a country's format, and alone (a region with no built-in format) weighs 1."""
    assert [f.weight for f in relative_weights(formats_named(["generic"]))] == [1.0]
    ranked = relative_weights(formats_named(["ng", "generic"]))
    assert [f.weight for f in ranked] == [1.0, FORMATS["generic"].weight]
    assert fit_formats("AB12345", relative_weights(formats_named(["generic"]))).factor == 1.0


_KIND = {"L": sorted(LETTERS), "D": sorted(DIGITS)}


@given(st.lists(st.tuples(st.sampled_from("LD"), st.integers(3, 4)), min_size=2,
                max_size=4).filter(lambda gs: len({k for k, _ in gs}) == 2),
       st.data())
def test_one_look_alike_of_the_other_kind_in_a_pure_group_is_put_back(
        layout: list[tuple[str, int]], data: st.DataObject) -> None:
    """A plate of pure groups (letters or digits, some of each) with one character in a
    group misread as its look-alike of the other kind reads as the plate again."""
    text, groups = "", []
    for g, (kind, size) in enumerate(layout):
        text += "".join(data.draw(st.sampled_from(_KIND[kind])) for _ in range(size))
        groups += [g] * size
    assert odd_one_out(text, groups) == (text, 0)  # pure already: nothing to do
    spots = [i for i, ch in enumerate(text) if ch in DIGIT_TO_LETTER or ch in LETTER_TO_DIGIT]
    if not spots:
        return
    i = data.draw(st.sampled_from(spots))
    misread = text[:i] + (DIGIT_TO_LETTER.get(text[i]) or LETTER_TO_DIGIT[text[i]]) \
        + text[i + 1:]
    fixed, swaps = odd_one_out(misread, groups)
    assert swaps == 1 and fixed[i] in _KIND[layout[groups[i]][0]]
