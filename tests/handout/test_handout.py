"""History over the socket: the service hands out ciphertext, the client decrypts."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from controller.config import StoreConfig
from controller.errors import EdgewardenError
from controller.store import RecordWriter, initialise
from controller.store.handout import HandoutReader, hand_out, list_headers, unlock_handed_identity
from controller.store.layout import StoreLayout

PASS = "handout test passphrase 7"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    initialise(data, passphrase=PASS)
    with RecordWriter.open(data, StoreConfig(seal_every_records=3)) as w:
        for i in range(5):
            w.append("reading", "node-1", "info", {"channel": "t", "value": i})
        ref = w.add_media(b"\xff\xd8 jpeg bytes", "image/jpeg")
        w.append("event", "yard", "warning", {"label": "person"}, media=[ref]).wait_durable(10)
    return data


def test_round_trip_with_media_and_seal_state(store: Path) -> None:
    handout = hand_out(StoreLayout(store), None, None, None, 100)
    text = repr(handout)
    assert "jpeg bytes" not in text and '"value": 3' not in text  # ciphertext only
    reader = HandoutReader(handout, unlock_handed_identity(handout, PASS))
    records = list(reader.records())
    assert [r.body.get("value") for r in records if r.kind == "reading"] == [0, 1, 2, 3, 4]
    event = next(r for r in records if r.kind == "event")
    assert reader.media(event.media[0].sha256) == b"\xff\xd8 jpeg bytes"
    assert {r["seal"] for r in handout["records"]} <= {"sealed", "pending"}
    assert any(r["seal"] == "sealed" for r in handout["records"])


def test_filters_and_headers(store: Path) -> None:
    handout = hand_out(StoreLayout(store), None, None, ["event"], 100)
    assert [r["kind"] for r in handout["records"]] == ["event"]
    headers = list_headers(StoreLayout(store).database, None, None, ["reading"], 2)
    assert [h["kind"] for h in headers] == ["reading", "reading"]
    assert headers[0]["id"] > headers[1]["id"]  # newest first


def test_readings_do_not_crowd_events_out_of_a_listing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    initialise(data, passphrase=PASS)
    with RecordWriter.open(data, StoreConfig()) as w:
        w.append("alarm", "node-1/t", "warning", {"event": "raise"})
        w.append("event", "yard", "warning", {"label": "person"})
        for i in range(50):  # a busy site: readings many times a second
            last = w.append("reading", "node-1", "info", {"channel": "t", "value": i})
        last.wait_durable(10)
    headers = list_headers(StoreLayout(data).database, None, None, ["event", "alarm"], 10)
    assert [h["kind"] for h in headers] == ["event", "alarm"]


def test_wrong_passphrase_and_tampering_are_refused(store: Path) -> None:
    handout = hand_out(StoreLayout(store), None, None, None, 100)
    with pytest.raises(EdgewardenError, match="wrong passphrase"):
        unlock_handed_identity(handout, "not the passphrase")
    identity = unlock_handed_identity(handout, PASS)
    ct = bytearray(base64.b64decode(handout["records"][1]["ct"]))
    ct[0] ^= 1
    handout["records"][1]["ct"] = base64.b64encode(bytes(ct)).decode()
    with pytest.raises(EdgewardenError, match="AEAD"):
        list(HandoutReader(handout, identity).records())
    # a header changed by whoever relays the handout fails too
    handout = hand_out(StoreLayout(store), None, None, None, 100)
    handout["records"][0]["source"] = "someone-else"
    with pytest.raises(EdgewardenError, match="AEAD"):
        list(HandoutReader(handout, identity).records())
