"""The pure cores behind checkpoints, tombstones and state authentication, case by case."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.store import state_auth
from controller.store.checkpoint import Checkpoint, CheckpointError, SealHead, compare, parse, sign
from controller.store.tombstone import DAY_S, Explainer, details, parse_source, ranges, source_for

KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key().public_bytes(serialization.Encoding.Raw,
                                    serialization.PublicFormat.Raw).hex()
SID = "ab" * 16
CP = Checkpoint(SID, 7, 120, bytes(range(32)), 2, 1_800_000_000.0)


def test_checkpoint_round_trips_and_refuses_edits_and_other_keys() -> None:
    text = sign(CP, KEY)
    assert parse(text, PUB) == CP
    for edit in (text.replace("\n120\n", "\n121\n"), text.replace("seal 7", "seal 8"),
                 text.replace("epoch 2", "epoch 3")):
        with pytest.raises(CheckpointError, match="signature does not verify"):
            parse(edit, PUB)
    with pytest.raises(CheckpointError, match="no signature by this store's key"):
        parse(sign(CP, Ed25519PrivateKey.generate()), PUB)
    with pytest.raises(CheckpointError, match="not a signed note"):
        parse("edgewarden/x\n1\n", PUB)


def test_compare_finds_older_forked_removed_and_foreign() -> None:
    same = SealHead(7, 2, 120, CP.head)
    assert compare(CP, SID, 9, {7: same}.get) is None
    assert "older" in (compare(CP, SID, 6, {}.get) or "")
    assert "forked" in (compare(CP, SID, 9, {7: SealHead(7, 2, 121, CP.head)}.get) or "")
    assert "forked" in (compare(CP, SID, 9, {7: SealHead(7, 2, 120, bytes(32))}.get) or "")
    assert "no seal 7" in (compare(CP, SID, 9, {}.get) or "")
    assert "another store" in (compare(CP, "cd" * 16, 9, {7: same}.get) or "")


def test_tombstone_sources_round_trip_and_split() -> None:
    d = {"why": "shed-media", "sha256": [f"{i:064x}" for i in range(250)]}
    parts = details(d)
    assert [len(p["sha256"]) for p in parts] == [100, 100, 50]
    assert parse_source(source_for(parts[0])) == parts[0]
    assert parse_source("store") is None and parse_source("tombstone/[1]") is None
    assert ranges([1, 2, 3, 7, 9, 10]) == [[1, 3], [7, 7], [9, 10]]


def test_explainer_accepts_what_tombstones_and_retention_explain_only() -> None:
    now = 1_800_000_000.0
    gone = Explainer({"reading": 30.0, "alarm": 365.0})
    gone.add(500, now, {"why": "retention", "at": now, "cutoffs": {"reading": now - 30 * DAY_S}})
    gone.add(501, now, {"why": "shed-readings", "seqs": [[10, 20]]})
    gone.add(502, now, {"why": "shed-media", "sha256": ["aa"]})
    gone.add(503, now, {"why": "retention", "at": now, "shredded": [0]})
    assert gone.problems == []
    assert gone.body_gone(1, "reading", now - 40 * DAY_S) is None
    assert gone.body_gone(15, "reading", now - 1) is None  # shed
    assert gone.body_gone(15, "alarm", now - 1) is not None  # alarms are never shed
    assert gone.body_gone(30, "reading", now - 1) is not None
    assert gone.media_gone(1, "aa", "shed", "event", now) is None
    assert gone.media_gone(1, "bb", "shed", "event", now) is not None
    assert gone.epoch_gone(0, now - 40 * DAY_S) is None
    assert "days after it ended" in (gone.epoch_gone(0, now - DAY_S) or "")
    assert "no retention tombstone" in (gone.epoch_gone(1, now - 40 * DAY_S) or "")
    early = Explainer({"alarm": 365.0})
    early.add(9, now, {"why": "retention", "at": now, "cutoffs": {"alarm": now - DAY_S}})
    early.add(10, now, {"why": "retention", "at": now + 3600, "cutoffs": {}})
    early.add(11, now, {"why": "nonsense"})
    assert len(early.problems) == 3


def test_state_judge_every_case(tmp_path: Path) -> None:
    path = tmp_path / "anomaly-state.json"
    data = b'{"a": 1}'
    assert state_auth.judge(path, None, None) == state_auth.Verdict(False, None)
    assert "missing" in (state_auth.judge(path, None, (5, "x")).problem or "")
    assert "no record" in (state_auth.judge(path, data, None).problem or "")
    assert "does not match" in (state_auth.judge(path, data, (5, "state/anomaly/00")).problem
                                or "")
    assert state_auth.judge(path, data, (5, state_auth.source_for(data))).trusted
