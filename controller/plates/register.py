"""The vehicle register: known plates on an allow, watch or deny list, and matching reads.

Pure: entries keyed by the normalised plate; a read matches exactly after normalisation,
else the nearest entry within `max_distance` by an edit distance in which swapping
look-alike characters (O/0, I/1, B/8, S/5, Z/2, G/6, D/0, Q/0) costs `LOOKALIKE_COST`.
The CSV form (`plate,list,label,note[,priority]`) is parsed all or nothing: a bad row is
one error naming the file and the row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from controller.errors import UsageError
from controller.plates.formats import DIGIT_TO_LETTER, LETTER_TO_DIGIT, normalise

ListName = Literal["allow", "watch", "deny"]
LISTS: tuple[ListName, ...] = ("allow", "watch", "deny")
PRIORITIES = ("low", "medium", "high", "critical")
#: the alarm priority of a hit when the entry names none
DEFAULT_PRIORITY: Mapping[str, str] = {"allow": "low", "watch": "high", "deny": "critical"}
LOOKALIKE_COST = 0.4
CSV_FIELDS = ("plate", "list", "label", "note", "priority")

_LOOKALIKES = frozenset(
    {frozenset(pair) for pair in [*LETTER_TO_DIGIT.items(), *DIGIT_TO_LETTER.items()]})


class RegisterError(ValueError):
    """An entry or a change the register refuses (the message names what is wrong)."""


@dataclass(frozen=True)
class Entry:
    """One known vehicle."""

    plate: str  # normalised
    list: ListName
    label: str = ""
    note: str = ""
    priority: str = ""  # empty: the list's default

    @property
    def alarm_priority(self) -> str:
        return self.priority or DEFAULT_PRIORITY[self.list]

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def make_entry(plate: str, list_name: str, label: str = "", note: str = "",
               priority: str = "") -> Entry:
    """A checked entry: the plate normalised, the list and priority known."""
    text = normalise(plate)
    if not 2 <= len(text) <= 12:
        raise RegisterError(f"plate {plate!r}: needs 2 to 12 letters or digits")
    if list_name not in LISTS:
        raise RegisterError(f"list {list_name!r}: must be one of {', '.join(LISTS)}")
    if priority and priority not in PRIORITIES:
        raise RegisterError(f"priority {priority!r}: must be one of {', '.join(PRIORITIES)}")
    if len(label) > 200 or len(note) > 1000:
        raise RegisterError(f"plate {text}: label or note too long")
    return Entry(text, list_name, label, note, priority)


def entry_from_json(data: Mapping[str, Any]) -> Entry:
    if not isinstance(data, Mapping):
        raise RegisterError("an entry must be an object")
    try:
        return make_entry(str(data["plate"]), str(data["list"]), str(data.get("label", "")),
                          str(data.get("note", "")), str(data.get("priority", "")))
    except KeyError as exc:
        raise RegisterError(f"an entry needs {exc.args[0]!r}") from None


def distance(a: str, b: str) -> float:
    """Edit distance where a look-alike substitution costs `LOOKALIKE_COST`, others 1."""
    row = [float(j) for j in range(len(b) + 1)]
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], float(i)
        for j, cb in enumerate(b, 1):
            if ca == cb:
                sub = 0.0
            elif frozenset((ca, cb)) in _LOOKALIKES:
                sub = LOOKALIKE_COST
            else:
                sub = 1.0
            prev, row[j] = row[j], min(row[j] + 1.0, row[j - 1] + 1.0, prev + sub)
    return row[-1]


@dataclass(frozen=True)
class Match:
    """A read found in the register: the entry, and how far the read was from it."""

    entry: Entry
    distance: float

    @property
    def exact(self) -> bool:
        return self.distance == 0.0


class Register:
    """The entries by plate; changes return the new state and never half-apply."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._entries: dict[str, Entry] = {}
        for entry in entries:
            self._entries[entry.plate] = entry

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[Entry]:
        return sorted(self._entries.values(), key=lambda e: e.plate)

    def get(self, plate: str) -> Entry | None:
        return self._entries.get(normalise(plate))

    def add(self, entry: Entry, replace: bool = False) -> None:
        if entry.plate in self._entries and not replace:
            raise RegisterError(f"plate {entry.plate} is already on the "
                                f"{self._entries[entry.plate].list} list")
        self._entries[entry.plate] = entry

    def remove(self, plate: str) -> Entry:
        key = normalise(plate)
        if key not in self._entries:
            raise RegisterError(f"plate {key or plate!r} is not in the register")
        return self._entries.pop(key)

    def import_entries(self, entries: list[Entry]) -> int:
        """Add or replace all of `entries` (already checked): the number imported."""
        for entry in entries:
            self._entries[entry.plate] = entry
        return len(entries)

    def match(self, read: str, max_distance: float = 1.0) -> Match | None:
        """The entry a read names: exact after normalisation, else the nearest in reach."""
        text = normalise(read)
        if not text:
            return None
        if text in self._entries:
            return Match(self._entries[text], 0.0)
        best: Match | None = None
        for plate, entry in self._entries.items():
            if abs(len(plate) - len(text)) > max_distance:
                continue
            d = distance(text, plate)
            if d <= max_distance and (best is None or (d, plate) < (best.distance,
                                                                    best.entry.plate)):
                best = Match(entry, d)
        return best


def parse_csv(text: str, source: str) -> list[Entry]:
    """Entries of a register CSV (header `plate,list[,label,note,priority]`), all or none.

    A bad row is a UsageError `SOURCE: row N: problem`; row 1 is the header.
    """
    reader = csv.reader(io.StringIO(text))
    rows = list(reader)
    if not rows:
        raise UsageError(f"{source}: empty file (needs a header: {','.join(CSV_FIELDS)})")
    header = [h.strip().lower() for h in rows[0]]
    if header[:2] != ["plate", "list"] or any(h not in CSV_FIELDS for h in header):
        raise UsageError(f"{source}: row 1: header must be plate,list[,label,note,priority]"
                         f", not {','.join(rows[0])}")
    out: list[Entry] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise UsageError(f"{source}: row {number}: {len(row)} fields, header has "
                             f"{len(header)}")
        fields = dict(zip(header, (c.strip() for c in row), strict=False))
        try:
            entry = make_entry(fields.get("plate", ""), fields.get("list", ""),
                               fields.get("label", ""), fields.get("note", ""),
                               fields.get("priority", ""))
        except RegisterError as exc:
            raise UsageError(f"{source}: row {number}: {exc}") from None
        if entry.plate in seen:
            raise UsageError(f"{source}: row {number}: plate {entry.plate} repeats row "
                             f"{seen[entry.plate]}")
        seen[entry.plate] = number
        out.append(entry)
    return out


def format_csv(entries: Iterable[Entry]) -> str:
    """The register as CSV that `parse_csv` reads back unchanged."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for e in entries:
        writer.writerow([e.plate, e.list, e.label, e.note, e.priority])
    return buffer.getvalue()
