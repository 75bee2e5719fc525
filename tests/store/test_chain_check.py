"""The one chain/seal check, exhaustively: a chain built by the writer's own fold verifies,
and any flipped byte, dropped or reordered record, or seal made with another epoch's key
is caught, from the genesis and from any anchor seal (as a bundle's segment starts)."""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.store.chain_check import ChainEntry, Findings, Start, check_chain, standard_checks
from controller.store.chain_fold import ChainPosition, EpochWriteKeys, end_seal, fold_batch
from controller.store.keyschedule import key_at, seal_key
from controller.store.records import Header, MediaRef
from controller.store.sealing import Seal, make_seal

STORE_ID = bytes(range(16))
SEED = hashlib.sha256(b"test seed").digest()


@dataclass(frozen=True)
class Item:
    kind: str
    source: str
    severity: str
    plain: bytes
    media: tuple[MediaRef, ...]
    t_wall: float


@dataclass
class Chain:
    seals: list[Seal]
    entries: list[ChainEntry]
    shredded: set[int] = dataclasses.field(default_factory=set)


def build(batches_per_epoch: list[list[int]], seal_every: int = 3) -> Chain:
    """Epochs of batches (each a record count), every epoch closed by an end seal."""
    pos = ChainPosition.genesis(STORE_ID)
    seals: list[Seal] = []
    entries: list[ChainEntry] = []
    t = 1000.0
    for epoch, batches in enumerate(batches_per_epoch):
        keys = EpochWriteKeys(STORE_ID, epoch, AESGCM(bytes([epoch + 1]) * 32),
                              seal_key(key_at(SEED, epoch)))
        for size in batches:
            items = []
            for i in range(size):
                t += 1.0
                media = (MediaRef(hashlib.sha256(str(t).encode()).hexdigest(), "image/png", 9),
                         ) if i % 4 == 3 else ()
                items.append(Item("reading" if i % 2 else "alarm", f"node{epoch}/t", "info",
                                  f'{{"v":{t}}}'.encode(), media, t))
            batch = fold_batch(keys, pos, items, now=t, seal_every=seal_every)
            for row, (_, ct), item in zip(batch.records, batch.bodies, items, strict=True):
                seq, t_wall, ep, kind, source, severity, prev, body_hash = row
                header = Header(seq, t_wall, ep, kind, source, severity, prev)
                entries.append(ChainEntry(header, body_hash,
                                          tuple(m.sha256 for m in item.media), ct))
            seals.extend(batch.seals)
            pos = batch.position
        seal, pos = end_seal(keys, pos, now=t)
        seals.append(seal)
    return Chain(seals, entries)


def run(chain: Chain, start: Start | None = None, seals: list[Seal] | None = None,
        seed: bytes | None = SEED) -> Findings:
    return check_chain(chain.seals if seals is None else seals, chain.entries,
                       start or Start.genesis(STORE_ID),
                       checks=standard_checks(STORE_ID, seed), shredded=chain.shredded)


epochs_st = st.lists(st.lists(st.integers(1, 7), min_size=1, max_size=3), min_size=1,
                     max_size=3)
fast = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_fold_output_verifies_and_every_record_is_sealed() -> None:
    chain = build([[5, 2], [3], [1, 1, 4]])
    found = run(chain)
    assert found.ok, found.problems
    assert found.records == 16 and found.seals == len(chain.seals)
    assert found.seals_authenticated == len(chain.seals)
    assert [s.kind for s in chain.seals].count("end") == 3
    # a seal every 3 records and one at the end of every batch
    assert chain.seals[0].last_seq == 3 and chain.seals[1].last_seq == 5


def test_a_failed_commit_does_not_move_the_chain() -> None:
    """fold_batch is pure: folding the same batch again from the same position gives the
    same rows and seals (the writer retries from its last durable position)."""
    keys = EpochWriteKeys(STORE_ID, 0, AESGCM(bytes(32)), seal_key(SEED))
    pos = ChainPosition.genesis(STORE_ID)
    items = [Item("reading", "a", "info", b"{}", (), 1.0)]
    one = fold_batch(keys, pos, items, now=5.0, seal_every=10)
    two = fold_batch(keys, pos, items, now=5.0, seal_every=10)
    assert one.records == two.records and one.seals == two.seals
    assert pos == ChainPosition.genesis(STORE_ID)
    assert one.position.next_seq == 2 and one.position.seal_no == 1


def test_an_ended_epoch_takes_no_record() -> None:
    keys = EpochWriteKeys(STORE_ID, 0, None, seal_key(SEED))
    with pytest.raises(ValueError, match="no data key"):
        fold_batch(keys, ChainPosition.genesis(STORE_ID),
                   [Item("reading", "a", "info", b"{}", (), 1.0)], now=1.0, seal_every=1)


@fast
@given(epochs_st, st.data())
def test_any_anchor_seal_starts_a_valid_segment(shape: list[list[int]], data: st.DataObject,
                                                ) -> None:
    chain = build(shape)
    i = data.draw(st.integers(0, len(chain.seals) - 1))
    anchor = chain.seals[i]
    segment = Chain(chain.seals[i + 1:], [e for e in chain.entries if e.seq > anchor.last_seq])
    found = run(segment, Start.after(anchor))
    assert found.ok, found.problems


def _flip(data: bytes, i: int) -> bytes:
    b = bytearray(data)
    b[i % len(b)] ^= 1 << (i % 8)
    return bytes(b)


_ENTRY_FIELDS = ("ct", "body_hash", "prev_hash", "t_wall", "kind", "source", "severity",
                 "epoch", "seq", "media")


def _flip_entry(e: ChainEntry, name: str, i: int) -> ChainEntry:
    h = e.header
    if name == "ct":
        assert e.ct is not None
        return dataclasses.replace(e, ct=_flip(e.ct, i))
    if name == "body_hash":
        return dataclasses.replace(e, body_hash=_flip(e.body_hash, i))
    if name == "media":
        media = e.media or (hashlib.sha256(b"x").hexdigest(),)
        return dataclasses.replace(e, media=(_flip(media[0].encode(), i).decode("latin-1"),)
                                   if e.media else media)
    if name in ("kind", "source", "severity"):
        text: Any = _flip(getattr(h, name).encode(), i).decode("latin-1")
        return dataclasses.replace(e, header=dataclasses.replace(h, **{name: text}))
    if name == "prev_hash":
        return dataclasses.replace(e, header=dataclasses.replace(h, prev_hash=_flip(
            h.prev_hash, i)))
    if name == "t_wall":
        (t_wall,) = struct.unpack(">d", _flip(struct.pack(">d", h.t_wall), i))
        return dataclasses.replace(e, header=dataclasses.replace(h, t_wall=t_wall))
    value: Any = getattr(h, name) ^ (1 << (i % 16))
    return dataclasses.replace(e, header=dataclasses.replace(h, **{name: value}))


@fast
@given(epochs_st, st.data())
def test_any_flipped_byte_of_a_record_is_caught(shape: list[list[int]],
                                                data: st.DataObject) -> None:
    chain = build(shape)
    n = data.draw(st.integers(0, len(chain.entries) - 1))
    name = data.draw(st.sampled_from(_ENTRY_FIELDS))
    i = data.draw(st.integers(0, 4096))
    chain.entries[n] = _flip_entry(chain.entries[n], name, i)
    assert not run(chain, seed=None).ok, (name, n)


_SEAL_FIELDS = ("seal_no", "epoch", "kind", "last_seq", "last_hash", "t_wall", "prev_mac",
                "mac")


@fast
@given(epochs_st, st.data())
def test_any_flipped_byte_of_a_seal_is_caught_with_the_key(shape: list[list[int]],
                                                           data: st.DataObject) -> None:
    chain = build(shape)
    n = data.draw(st.integers(0, len(chain.seals) - 1))
    name = data.draw(st.sampled_from(_SEAL_FIELDS))
    i = data.draw(st.integers(0, 4096))
    s = chain.seals[n]
    value = getattr(s, name)
    if isinstance(value, bytes):
        value = _flip(value, i)
    elif isinstance(value, str):
        value = "batch" if value == "end" else "end"
    elif isinstance(value, float):
        value = value + (1 + i)
    else:
        value = value ^ (1 << (i % 8))
    chain.seals[n] = dataclasses.replace(s, **{name: value})
    assert not run(chain).ok, (name, n)


@fast
@given(epochs_st, st.data())
def test_a_dropped_record_is_caught(shape: list[list[int]], data: st.DataObject) -> None:
    chain = build(shape)
    del chain.entries[data.draw(st.integers(0, len(chain.entries) - 1))]
    assert not run(chain, seed=None).ok


@fast
@given(epochs_st, st.data())
def test_a_dropped_seal_is_caught(shape: list[list[int]], data: st.DataObject) -> None:
    """Any seal but the last: cutting the seal chain's tail is what the store's key-state
    check finds (`seal.key` is ahead of the records), not the chain walk."""
    chain = build(shape)
    del chain.seals[data.draw(st.integers(0, len(chain.seals) - 2))]
    assert not run(chain, seed=None).ok


@fast
@given(epochs_st.filter(lambda s: sum(map(sum, s)) >= 2), st.data())
def test_reordered_records_are_caught(shape: list[list[int]], data: st.DataObject) -> None:
    chain = build(shape)
    i = data.draw(st.integers(0, len(chain.entries) - 2))
    j = data.draw(st.integers(i + 1, len(chain.entries) - 1))
    chain.entries[i], chain.entries[j] = chain.entries[j], chain.entries[i]
    assert not run(chain, seed=None).ok


@fast
@given(epochs_st.filter(lambda s: len(s) >= 2), st.data())
def test_a_seal_made_with_another_epochs_key_is_caught(shape: list[list[int]],
                                                       data: st.DataObject) -> None:
    """CVE-2023-31439: a MAC under a later (or earlier) key never passes for its epoch."""
    chain = build(shape)
    n = data.draw(st.integers(0, len(chain.seals) - 1))
    s = chain.seals[n]
    other = data.draw(st.integers(0, len(shape) + 2).filter(lambda e: e != s.epoch))
    forged = make_seal(seal_key(key_at(SEED, other)), STORE_ID, seal_no=s.seal_no,
                       epoch=s.epoch, kind=s.kind, last_seq=s.last_seq,
                       last_hash=s.last_hash, t_wall=s.t_wall, prev_mac=s.prev_mac)
    chain.seals[n] = forged
    found = run(chain)
    assert any(f"MAC was not made with the key of epoch {s.epoch}" in p for p in found.problems)


@fast
@given(epochs_st.filter(lambda s: len(s) >= 2), st.data())
def test_a_seal_relabelled_to_another_epoch_is_caught(shape: list[list[int]],
                                                      data: st.DataObject) -> None:
    """Claiming another epoch and MACing with that epoch's key fails the epoch checks."""
    chain = build(shape)
    n = data.draw(st.integers(0, len(chain.seals) - 1))
    s = chain.seals[n]
    other = data.draw(st.integers(0, len(shape) + 2).filter(lambda e: e != s.epoch))
    chain.seals[n] = make_seal(seal_key(key_at(SEED, other)), STORE_ID, seal_no=s.seal_no,
                               epoch=other, kind=s.kind, last_seq=s.last_seq,
                               last_hash=s.last_hash, t_wall=s.t_wall, prev_mac=s.prev_mac)
    assert not run(chain).ok


def test_a_shredded_epoch_is_bridged_by_its_seals_and_only_that() -> None:
    chain = build([[3], [4, 2], [2]])
    gone = {e.seq for e in chain.entries if e.header.epoch == 1}
    kept = [e for e in chain.entries if e.seq not in gone]
    shredded = Chain(chain.seals, kept, {1})
    found = run(shredded)
    assert found.ok, found.problems
    assert any("shredded epoch 1" in n for n in found.notes)
    # the same gap in an epoch not shredded is records deleted
    assert not run(Chain(chain.seals, kept, set())).ok
    # a shredded epoch covers only its own seals' records: dropping epoch 2's too is caught
    assert not run(Chain(chain.seals, [e for e in kept if e.header.epoch != 2], {1})).ok


def test_records_after_the_last_seal_are_reported() -> None:
    chain = build([[3]])
    last = chain.entries[-1]
    extra = dataclasses.replace(last, header=dataclasses.replace(last.header, seq=last.seq + 1))
    chain.entries.append(extra)
    found = run(chain)
    assert any("not covered by any seal" in p for p in found.problems)


@pytest.mark.parametrize("field", _ENTRY_FIELDS)
def test_every_record_field_matters(field: str) -> None:
    """Each field of the record stream is covered (a deterministic sweep of the above)."""
    chain = build([[4], [4]])
    for n in range(len(chain.entries)):
        changed = Chain(chain.seals, list(chain.entries))
        changed.entries[n] = _flip_entry(changed.entries[n], field, n * 7 + 1)
        assert not run(changed, seed=None).ok, (field, n)


@pytest.mark.parametrize("name", ["bba87d7\u00b52f1d", "\ud800", "\u6771\u4eac"])
def test_a_media_name_that_is_not_ascii_is_a_problem_not_a_crash(name: str) -> None:
    chain = build([[4]])
    n = next(i for i, e in enumerate(chain.entries) if e.media)
    chain.entries[n] = dataclasses.replace(chain.entries[n], media=(name,))
    found = run(chain)
    assert not found.ok
    assert any(f"record {chain.entries[n].seq}" in p for p in found.problems), found.problems
