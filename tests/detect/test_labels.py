from __future__ import annotations

from pathlib import Path

import pytest

from controller.config.labels import load_labels, parse_pbtxt, parse_txt
from controller.errors import UsageError


def test_pbtxt_one_based_ids_map_zero_based_classes() -> None:
    labels = parse_pbtxt('item {\n name: "sedan"\n id: 1\n}\nitem { id: 2 name: "pickup" }\n')
    assert labels.offset == 1
    assert labels.name(0) == "sedan"
    assert labels.name(1) == "pickup"
    assert labels.name(5) == "class 5"


def test_pbtxt_prefers_display_name_and_keeps_zero_based_maps() -> None:
    labels = parse_pbtxt('item { id: 0 name: "/m/01" display_name: "person" }\n'
                         'item { id: 1 name: "/m/02" display_name: "car" }')
    assert (labels.offset, labels.name(0), labels.name(1)) == (0, "person", "car")


def test_pbtxt_background_item_is_dropped() -> None:
    labels = parse_pbtxt('item { id: 0 name: "background" }\nitem { id: 1 name: "cat" }')
    assert labels.name(0) == "cat"


def test_txt_plain_placeholder_and_numbered() -> None:
    assert parse_txt("person\ncar\n").name(1) == "car"
    with_placeholder = parse_txt("???\nperson\ncar\n")
    assert with_placeholder.name(0) == "person"
    assert parse_txt("1 person\n2 car\n").name(0) == "person"
    assert parse_txt("0: person\n1: car\n").name(0) == "person"


def test_bad_label_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such label file"):
        load_labels(tmp_path / "nope.txt")
    bad = tmp_path / "bad.pbtxt"
    bad.write_text('item { name: "x" }\n')
    with pytest.raises(UsageError, match=r"bad\.pbtxt:1: .*id and a name"):
        load_labels(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(UsageError, match="empty"):
        load_labels(empty)
