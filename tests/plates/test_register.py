"""The vehicle register: entries, exact and fuzzy matching, CSV all or nothing, the file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.errors import EdgewardenError, UsageError
from controller.plates import register_file
from controller.plates.register import (
    LOOKALIKE_COST,
    Register,
    RegisterError,
    distance,
    format_csv,
    make_entry,
    parse_csv,
)

plates = st.text(alphabet="ABCDEFGHJKLMNPRTUVWXY0123456789", min_size=5, max_size=8)


def test_an_entry_is_normalised_and_checked() -> None:
    entry = make_entry("abc-123 de", "watch", "stolen", "reported 3 May")
    assert entry.plate == "ABC123DE" and entry.alarm_priority == "high"
    assert make_entry("ABC123DE", "deny").alarm_priority == "critical"
    assert make_entry("ABC123DE", "allow", priority="medium").alarm_priority == "medium"
    with pytest.raises(RegisterError, match="list 'block'"):
        make_entry("ABC123DE", "block")
    with pytest.raises(RegisterError, match="needs 2 to 12"):
        make_entry("--", "watch")
    with pytest.raises(RegisterError, match="priority 'urgent'"):
        make_entry("ABC123DE", "watch", priority="urgent")


def test_exact_match_after_normalisation_then_fuzzy_with_cheap_look_alikes() -> None:
    reg = Register([make_entry("ABC-123DE", "watch"), make_entry("KJA-407XY", "allow")])
    assert reg.match("abc 123-de").exact  # type: ignore[union-attr]
    near = reg.match("ABC12JDE")  # one ordinary substitution
    assert near is not None and near.entry.plate == "ABC123DE" and near.distance == 1.0
    look = reg.match("KJA4O7XY")  # O for 0 costs less
    assert look is not None and look.distance == pytest.approx(LOOKALIKE_COST)
    assert reg.match("KJA4O7XY", max_distance=0.3) is None
    assert reg.match("ABC12JDX") is None  # two substitutions: out of reach
    assert reg.match("ABC12JDX", max_distance=2.0) is not None
    assert reg.match("") is None


@given(plates, plates)
def test_distance_is_a_symmetric_measure_below_the_plain_edit_distance(a: str, b: str) -> None:
    assert distance(a, b) == pytest.approx(distance(b, a))
    assert (distance(a, b) == 0) == (a == b)
    assert distance(a, b) <= max(len(a), len(b))


@given(st.lists(plates, min_size=1, max_size=8, unique=True), st.data())
def test_every_entry_matches_itself_exactly_and_its_look_alike_twin_fuzzily(
        texts: list[str], data: st.DataObject) -> None:
    reg = Register(make_entry(t, "watch") for t in texts)
    for text in texts:
        found = reg.match(text)
        assert found is not None and found.exact and found.entry.plate == text
    text = data.draw(st.sampled_from(texts))
    twin = text.replace("0", "O", 1) if "0" in text else text
    found = reg.match(twin, max_distance=LOOKALIKE_COST)
    assert found is not None and found.distance <= LOOKALIKE_COST


def test_add_refuses_a_duplicate_and_remove_an_unknown_plate() -> None:
    reg = Register()
    reg.add(make_entry("ABC123DE", "watch"))
    with pytest.raises(RegisterError, match="already on the watch list"):
        reg.add(make_entry("abc-123de", "deny"))
    reg.add(make_entry("abc-123de", "deny"), replace=True)
    assert reg.get("ABC123DE").list == "deny"  # type: ignore[union-attr]
    assert reg.remove("ABC-123DE").plate == "ABC123DE"
    with pytest.raises(RegisterError, match="not in the register"):
        reg.remove("ABC123DE")


def test_csv_round_trips_and_a_bad_row_names_the_file_and_row() -> None:
    entries = [make_entry("ABC123DE", "watch", "van, white", 'said "hi"'),
               make_entry("KJA407XY", "allow", priority="low")]
    assert parse_csv(format_csv(entries), "v.csv") == entries
    bad = "plate,list,label\nABC123DE,watch,van\nKJA407XY,block,car\n"
    with pytest.raises(UsageError, match=r"^v\.csv: row 3: list 'block'"):
        parse_csv(bad, "v.csv")
    with pytest.raises(UsageError, match=r"^v\.csv: row 3: plate ABC123DE repeats row 2"):
        parse_csv("plate,list\nABC123DE,watch\nabc-123de,deny\n", "v.csv")
    with pytest.raises(UsageError, match=r"^v\.csv: row 1: header"):
        parse_csv("number,kind\nABC123DE,watch\n", "v.csv")
    with pytest.raises(UsageError, match=r"^v\.csv: empty file"):
        parse_csv("", "v.csv")


def test_the_register_file_is_0600_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "vehicles.json"
    assert len(register_file.load(path)) == 0
    reg = Register([make_entry("ABC123DE", "watch", "van")])
    register_file.save(path, reg)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert register_file.load(path).entries() == reg.entries()
    path.write_text("{not json")
    with pytest.raises(EdgewardenError, match="vehicle register unreadable"):
        register_file.load(path)
