"""Plate formats per country and position-aware correction of look-alike characters.

A format is a template: one class per position, `L` a letter, `D` a digit, `A` either.
Where the template fixes a position to a letter or a digit, a character the OCR confuses
with one of the other kind (O/0, I/1, B/8, S/5, Z/2, G/6, D/0, Q/0) is corrected; a read
that fits no format after correction is kept with a low confidence, never dropped.
A site's own formats come from the config's `[plate_formats]` patterns (`LL-DDDD/DD`:
the same classes, plus separators and a line break, `controller/config/plate_patterns.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from controller.config.plate_patterns import (
    DEFAULT_PLATE_FORMATS,
    patterns_of,
    site_formats_problem,
    template_of,
)

LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
DIGITS = frozenset("0123456789")

#: digit a letter is mistaken for, where a digit is due
LETTER_TO_DIGIT = {"O": "0", "D": "0", "Q": "0", "I": "1", "B": "8", "S": "5",
                   "Z": "2", "G": "6"}
#: letter a digit is mistaken for, where a letter is due
DIGIT_TO_LETTER = {"0": "O", "1": "I", "8": "B", "5": "S", "2": "Z", "6": "G"}

#: confidence factor of a read that fits no format
UNMATCHED_FACTOR = 0.3
#: confidence factor per corrected character
CORRECTION_FACTOR = 0.9
#: confidence factor of an all-letter or all-digit read fitting only `A` positions: a
#: word or a number (a sign, a date stamp) is less plate-like than a mix
UNMIXED_FACTOR = 0.6

_TEMPLATE = re.compile(r"^[LDA]+$")


@dataclass(frozen=True)
class PlateFormat:
    """One plate layout: a name (e.g. `ng`) and its templates (e.g. `LLLDDDLL`)."""

    name: str
    templates: tuple[str, ...]
    weight: float = 1.0  # a catch-all format weighs less than a country's own
    #: letters this format never issues: read as their digit twin wherever they appear
    #: (US states do not issue the letter O; their O-shaped glyph is the digit 0)
    never: str = ""

    def __post_init__(self) -> None:
        if not self.templates:
            raise ValueError(f"plate format {self.name!r} has no template")
        for template in self.templates:
            if not _TEMPLATE.match(template):
                raise ValueError(f"plate format {self.name!r}: template {template!r} "
                                 "may hold only L (letter), D (digit) and A (either)")


#: the formats known by name; `ng` (Nigeria, ABC-123DE) is the default
FORMATS: dict[str, PlateFormat] = {
    "ng": PlateFormat("ng", ("LLLDDDLL",)),
    "br": PlateFormat("br", ("LLLDDDD", "LLLDLDD")),  # old grey plates and Mercosul
    "us": PlateFormat("us", tuple("A" * n for n in range(5, 9)), never="O"),
    "generic": PlateFormat("generic", tuple("A" * n for n in range(4, 11)), weight=0.8),
}
DEFAULT_FORMATS = DEFAULT_PLATE_FORMATS
#: a site's own formats as the config holds them: name -> pattern or patterns
SiteTable = Mapping[str, str | Sequence[str]]


def site_formats(table: SiteTable) -> dict[str, PlateFormat]:
    """The site's own formats (`[plate_formats]`), each pattern's classes one template.

    The config refuses a bad table at load; one built in code is checked the same way here
    (a ValueError naming the format)."""
    if (found := site_formats_problem(table)) is not None:
        raise ValueError(f"plate format {found[0]!r}: {found[1]}")
    return {name: PlateFormat(name, tuple(dict.fromkeys(template_of(p)
                                                        for p in patterns_of(value))))
            for name, value in table.items()}


def formats_named(names: Sequence[str], site: SiteTable | None = None
                  ) -> tuple[PlateFormat, ...]:
    """The formats with these names, in order, built-in or the site's own (`site`: the
    config's `[plate_formats]`); an unknown name is a ValueError."""
    known = {**FORMATS, **site_formats(site or {})}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown plate format {unknown[0]!r} "
                         f"(known: {', '.join(known)})")
    return tuple(known[n] for n in names)


def relative_weights(formats: Sequence[PlateFormat]) -> tuple[PlateFormat, ...]:
    """`formats` with their weights relative to the heaviest of them (it weighs 1).

    A weight ranks a format against the others a camera reads: the catch-all weighs less
    than a country's own so that a plate fitting both is taken as the country's. Alone, it
    has nothing to rank against: a site told no format (a region without a built-in one)
    would otherwise never get a read sure enough to end the search, nor one of confidence
    above its weight, however clear the plate."""
    top = max((f.weight for f in formats), default=1.0)
    return tuple(replace(f, weight=f.weight / top) for f in formats)


def normalise(text: str) -> str:
    """Upper-case letters and digits only: spaces, dashes, dots and the rest removed."""
    return "".join(ch for ch in text.upper() if ch in LETTERS or ch in DIGITS)


def fits(text: str, template: str) -> bool:
    """Whether `text` (normalised) fits `template` character by character."""
    if len(text) != len(template):
        return False
    for ch, cls in zip(text, template, strict=True):
        if cls == "L" and ch not in LETTERS:
            return False
        if cls == "D" and ch not in DIGITS:
            return False
    return True


def correct(text: str, template: str, never: str = "") -> tuple[str, int] | None:
    """`text` made to fit `template` by swapping look-alikes, and how many were swapped.

    Letters in `never` are swapped for their digit twin wherever they appear. None when
    the length differs or a position cannot be fixed by a look-alike.
    """
    if len(text) != len(template):
        return None
    out: list[str] = []
    swaps = 0
    for ch, cls in zip(text, template, strict=True):
        if ch in never:
            if cls == "L" or ch not in LETTER_TO_DIGIT:
                return None
            out.append(LETTER_TO_DIGIT[ch])
            swaps += 1
        elif cls == "L" and ch in DIGITS:
            if ch not in DIGIT_TO_LETTER:
                return None
            out.append(DIGIT_TO_LETTER[ch])
            swaps += 1
        elif cls == "D" and ch in LETTERS:
            if ch not in LETTER_TO_DIGIT:
                return None
            out.append(LETTER_TO_DIGIT[ch])
            swaps += 1
        elif ch in LETTERS or ch in DIGITS:
            out.append(ch)
        else:
            return None
    return "".join(out), swaps


#: a group of fewer characters than this says nothing of its kind (`B` in `B MW 1234`)
GROUP_MIN = 3


def odd_one_out(text: str, groups: Sequence[int]) -> tuple[str, int]:
    """`text` with the one character of a group that is not of the group's kind swapped
    for its look-alike twin (in groups of at least `GROUP_MIN`), when that makes every
    group all letters or all digits, some of each; and how many were swapped.

    Where no format fixes the positions, the plate's own layout still can: its
    characters come in groups parted by a space or a dash, and in most of Europe's and
    South America's formats each group is all letters or all digits (AYO-9034,
    AB-123-CD, GV-381-X), so a 0 among letters is an O and an O among digits a 0. A plate
    with a group that stays a mix (YG9 X2G, the UK's AB12 CDE) has no such layout: it is
    left as read, and so is one whose groups would all be of one kind."""
    if len(groups) != len(text) or len(set(groups)) < 2:
        return text, 0
    out = list(text)
    swaps = 0
    kinds = set()
    for group in sorted(set(groups)):
        members = [i for i, g in enumerate(groups) if g == group]
        digits = [i for i in members if text[i] in DIGITS]
        letters = [i for i in members if text[i] in LETTERS]
        odd = [] if len(members) < GROUP_MIN else digits if len(digits) == 1 else \
            letters if len(letters) == 1 else []
        for i in odd:
            twin = DIGIT_TO_LETTER.get(text[i]) or LETTER_TO_DIGIT.get(text[i])
            if twin is not None:
                out[i] = twin
                swaps += 1
        fixed = {ch in DIGITS for ch in (out[i] for i in members)}
        if len(fixed) > 1:
            return text, 0  # a group of mixed kinds: no layout of pure groups
        kinds |= fixed
    if len(kinds) < 2:
        return text, 0
    return "".join(out), swaps


@dataclass(frozen=True)
class FormatFit:
    """A read after formatting: its text, the format it fits (None: none) and a factor."""

    text: str
    format_name: str | None
    factor: float  # multiplies the OCR confidence: 1.0 exact fit, lower per swap

    @property
    def matched(self) -> bool:
        return self.format_name is not None


def fit_formats(raw: str, formats: tuple[PlateFormat, ...]) -> FormatFit:
    """The best fit of a raw read among `formats` (earlier formats win ties).

    A country's format (full weight) beats the catch-all whatever the swaps, since the
    catch-all fits any mix; then fewest swaps, then format order, so an exact fit of a later
    format beats a corrected fit of an earlier one. A read fitting none is kept,
    normalised, with `UNMATCHED_FACTOR`.
    """
    text = normalise(raw)
    best: tuple[float, int, int, str, PlateFormat] | None = None
    for order, fmt in enumerate(formats):
        for template in fmt.templates:
            fixed = correct(text, template, fmt.never)
            if fixed is None:
                continue
            candidate = (-fmt.weight, fixed[1], order, fixed[0], fmt)
            if best is None or candidate[:3] < best[:3]:
                best = candidate
    if best is None:
        return FormatFit(text, None, UNMATCHED_FACTOR)
    _, swaps, _, fixed_text, fmt = best
    factor = fmt.weight * CORRECTION_FACTOR ** swaps
    # a letter the format never issues and its digit twin are one glyph: neither makes a
    # word a mix (LOADING read as L0ADING is still a word)
    ambiguous = set(fmt.never) | {LETTER_TO_DIGIT[ch] for ch in fmt.never}
    kinds = set(text) - ambiguous
    if len(text) in {len(t) for t in fmt.templates if set(t) == {"A"}} and (
            kinds <= LETTERS or kinds <= DIGITS):
        factor *= UNMIXED_FACTOR
    return FormatFit(fixed_text, fmt.name, factor)


def display(text: str, format_name: str | None) -> str:
    """A plate as printed: Nigeria's `ABC123DE` as `ABC-123DE`; others unchanged."""
    if format_name == "ng" and len(text) == 8:
        return f"{text[:3]}-{text[3:]}"
    return text
