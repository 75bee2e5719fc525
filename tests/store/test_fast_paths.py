"""The writer's fast paths agree with the slow ones they replace.

Bodies are encoded with msgspec when that gives the same document back, and with the
strict json encoder otherwise: what is accepted, what is refused and what a reader decodes
must be exactly what the strict encoder alone gives. Rows go in many per INSERT statement:
every row must land, in order, whatever the batch size.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
import sqlite3
from typing import Any

import pytest

from controller.camera.media import MediaRef
from controller.store.database import insert_rows
from controller.store.records import encode_body

_STRICT = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def _reference(body: dict[str, Any], media: tuple[MediaRef, ...] = ()) -> Any:
    """The document the strict json encoder alone stores (raises where it refuses)."""
    doc: dict[str, Any] = {"b": body, "boot": "b00t", "sync": True, "mono": 12.5}
    if media:
        doc["m"] = [{"h": m.sha256, "t": m.content_type, "n": m.size} for m in media]
    return json.loads(_STRICT.encode(doc))


ACCEPTED: list[dict[str, Any]] = [
    {"value": 20.5, "unit": "C", "seq": 12345},
    {},
    {"nested": {"a": [1, 2.0, None, True, False, "x"]}, "empty": [], "none": None},
    {"floats": [0.1, -0.0, 1e300, 5e-324, 1.7e9 + 0.01, 123456789.123456789]},
    {"ints": [0, -1, 2**63 - 1, -(2**63), 2**64, 10**40]},
    {"text": "grüße, 東京, \u2028 \"quoted\" \\ back\nslash\t\x00"},
    {"lone": "\ud800"},  # json escapes a lone surrogate; UTF-8 cannot hold it
    {"tuple": (1, 2, (3, "x"))},  # json stores tuples as lists
    {"keys": {3: "int", 2.5: "float", True: "bool", None: "none"}},  # json makes them strings
    {"deep": [[[[[[[[[[{"x": 1}]]]]]]]]]]},
]
REFUSED: list[dict[str, Any]] = [
    {"v": math.nan},
    {"v": [1.0, math.inf]},
    {"v": {"w": -math.inf}},
    {"v": b"bytes"},
    {"v": {1, 2}},
    {"v": datetime.datetime(2026, 1, 1)},
    {"v": decimal.Decimal("1.5")},
    {"v": object()},
]


@pytest.mark.parametrize("body", ACCEPTED, ids=range(len(ACCEPTED)))
def test_an_accepted_body_decodes_as_the_strict_encoder_stores_it(body: dict[str, Any]) -> None:
    media = (MediaRef("ab" * 32, "image/png", 12),)
    for refs in ((), media):
        plain = encode_body(body, refs, 12.5, "b00t", True)
        assert json.loads(plain) == _reference(body, refs)


@pytest.mark.parametrize("body", REFUSED, ids=range(len(REFUSED)))
def test_a_body_the_strict_encoder_refuses_is_refused(body: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        _reference(body)
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        encode_body(body, (), 12.5, "b00t", True)


def test_the_record_fields_around_the_body_are_checked_too() -> None:
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        encode_body({"v": 1}, (), math.nan, "b00t", True)
    plain = encode_body({"v": 1}, (), 7, "b00t", True)  # an int clock reading, as json has it
    assert json.loads(plain) == {"b": {"v": 1}, "boot": "b00t", "sync": True, "mono": 7}
    odd: Any = [1, 2]  # not a dict: json stores it as it is, so must the store
    assert json.loads(encode_body(odd, (), None, "b00t", False))["b"] == [1, 2]


def test_a_circular_body_is_refused() -> None:
    body: dict[str, Any] = {}
    body["self"] = body
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        encode_body(body, (), None, "b00t", False)


@pytest.mark.parametrize("width", [2, 8])
def test_rows_go_in_whole_and_in_order_for_every_batch_size(width: int) -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    cols = ", ".join(f"c{i}" for i in range(1, width))
    conn.execute(f"CREATE TABLE t (seq INTEGER PRIMARY KEY, {cols})")
    seq = 0
    for n in [*range(0, 130), 1000, 1001, 4095]:
        rows = [(seq + i, *(f"{seq + i}:{c}".encode() for c in range(1, width)))
                for i in range(n)]
        seq += n
        insert_rows(conn, "t", rows)
        got = conn.execute("SELECT * FROM t WHERE seq >= ? ORDER BY seq",
                           (seq - n,)).fetchall()
        assert got == rows, n
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == seq
