"""Plate patterns as a site writes them in `[plate_formats]`, checked where the config loads.

A pattern is the plate as printed, one class per character: `L` a letter, `D` a digit, `A`
either (the classes `controller/plates/formats.py` uses for its built-in templates).
`-`, `.` and spaces are the plate's separators: allowed anywhere between characters and
ignored when a read is fitted (a read is normalised to letters and digits). One `/` marks
where the top line of a two-line plate ends; the reader joins such a plate's lines top
first, so the pattern fits the joined text. The config cannot import `controller.plates`
(a later layer), so the pattern rules and the built-in names live here; a test keeps
`BUILTIN_PLATE_FORMATS` equal to the names in `formats.FORMATS`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

#: the formats `controller/plates/formats.py` defines; a site may not reuse these names
BUILTIN_PLATE_FORMATS = ("ng", "br", "us", "generic")
#: a camera's formats when it names none: Nigeria's `ABC-123DE`, then the catch-all
DEFAULT_PLATE_FORMATS = ("ng", "generic")
#: characters a pattern may hold at least and at most (the catch-all reads 4..10)
MIN_CHARACTERS = 3
MAX_CHARACTERS = 12
SEPARATORS = frozenset("-. ")
LINE_BREAK = "/"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,15}$")


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` is not a plate pattern, or None."""
    for ch in pattern:
        if ch not in "LDA" and ch not in SEPARATORS and ch != LINE_BREAK:
            return (f"pattern {pattern!r}: {ch!r} is not L (letter), D (digit), A (either), "
                    f"a separator (- . space) or / (line break)")
    lines = pattern.split(LINE_BREAK)
    if len(lines) > 2:
        return f"pattern {pattern!r}: at most one / (a plate of two lines)"
    if any(not template_of(line) for line in lines):
        return f"pattern {pattern!r}: each line needs at least one L, D or A"
    size = len(template_of(pattern))
    if not MIN_CHARACTERS <= size <= MAX_CHARACTERS:
        return (f"pattern {pattern!r}: must hold {MIN_CHARACTERS}..{MAX_CHARACTERS} "
                f"characters, got {size}")
    return None


def template_of(pattern: str) -> str:
    """The pattern's classes alone (`LL-DDDD/DD` -> `LLDDDDDD`): what a read is fitted to."""
    return "".join(ch for ch in pattern if ch in "LDA")


def patterns_of(value: str | Sequence[str]) -> tuple[str, ...]:
    """A format's patterns: one string, or a list of them (layouts of one country)."""
    return (value,) if isinstance(value, str) else tuple(value)


def site_formats_problem(table: Mapping[str, str | Sequence[str]]) -> tuple[str, str] | None:
    """(name, problem) of a `[plate_formats]` table with a bad name or pattern, or None.

    A built-in name is refused rather than replaced: a site's `ng` silently reading
    differently from the documented `ng` would surprise whoever reads the config next.
    """
    for name, value in table.items():
        if name in BUILTIN_PLATE_FORMATS:
            return name, (f"{name!r} is a built-in format "
                          f"({', '.join(BUILTIN_PLATE_FORMATS)}); give the site's own "
                          "another name")
        if not _NAME.match(name):
            return name, ("a format name is a lower-case letter, then up to 15 lower-case "
                          "letters, digits or _")
        patterns = patterns_of(value)
        if not patterns:
            return name, "needs at least one pattern"
        for pattern in patterns:
            if (problem := pattern_problem(pattern)) is not None:
                return name, problem
    return None


def camera_formats_problem(names: Sequence[str]) -> tuple[int | str, str] | None:
    """(index or "" for the whole list, problem) of a camera's `plate_formats` that is
    unusable on its own (empty, a repeat), or None; whether each name is defined is
    checked against the whole file's `[plate_formats]` (`Config`)."""
    if not names:
        return "", "must name at least one format (default: " + ", ".join(
            DEFAULT_PLATE_FORMATS) + ")"
    for index, name in enumerate(names):
        if name in names[:index]:
            return index, f"{name!r} is listed twice"
    return None
