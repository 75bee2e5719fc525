"""The one check of the record chain and its seals (sans-IO), used by `verify` and
`verify-bundle` alike.

A caller hands over what it read (a whole store or an exported segment): the seals in
their order, the record stream in its order, where the segment starts (the genesis, or
the anchor seal before its first record) and which epochs were crypto-shredded. The walk
recomputes the chain the writer's fold (`chain_fold.py`) built, assigns each record to
the seal that covers it and runs a list of checks over that stream:

- the seal chain: numbering, `prev_mac`, epochs in order (a new epoch only after an end
  seal), never going back in the records, and with the verification key each MAC under
  the key of the seal's *own* epoch (CVE-2023-31439);
- the record chain: gaps, reordering, each record's epoch against its seal's, each link
  (`prev_hash`), each body hash, each seal's `last_hash`, records no seal covers.

A shredded epoch has no records left; its seals (authenticated and chained) carry the
chain hash across the gap. More checks (an AEAD tag, a bundle's expired bodies, a later
signed checkpoint) are `Check`s added to the list: each sees every seal and every record
with the chain head before it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from controller.store.keyschedule import KeySchedule
from controller.store.records import Header, chain_hash, genesis_hash
from controller.store.sealing import GENESIS_MAC, Seal, seal_is_valid

_MAX_PROBLEMS = 200


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """One record as a verifier sees it: header, body hash, media hashes, ciphertext
    (None once retention dropped it) and whether an export selected it."""

    header: Header
    body_hash: bytes
    media: tuple[str, ...] = ()
    ct: bytes | None = None
    selected: bool = True

    @property
    def seq(self) -> int:
        return self.header.seq


@dataclass
class Findings:
    """What the checks found: problems (tampering) and notes (worth knowing, not wrong)."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    records: int = 0
    tombstones: int = 0
    seals: int = 0
    seals_authenticated: int = 0
    limit: int = _MAX_PROBLEMS

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        if len(self.problems) < self.limit:
            self.problems.append(text)
        elif len(self.problems) == self.limit:
            self.problems.append("... more problems not listed")


@dataclass(frozen=True)
class Start:
    """Where the walk starts: before record 1 (`anchor` None) or after an anchor seal."""

    head: bytes
    anchor: Seal | None = None

    @classmethod
    def genesis(cls, store_id: bytes) -> Start:
        return cls(genesis_hash(store_id))

    @classmethod
    def after(cls, anchor: Seal) -> Start:
        return cls(anchor.last_hash, anchor)

    @property
    def first_seq(self) -> int:
        return 1 if self.anchor is None else self.anchor.last_seq + 1


class Check(Protocol):
    """One check over the walk. `on_anchor` sees a segment's anchor seal (whose
    predecessor the segment does not hold); `on_seal` every other seal with the one before
    it (None: the store's first); `on_record` each record with its seal and the chain
    hash before it."""

    def on_anchor(self, seal: Seal, found: Findings) -> None: ...
    def on_seal(self, seal: Seal, prev: Seal | None, found: Findings) -> None: ...
    def on_record(self, entry: ChainEntry, seal: Seal, head: bytes, found: Findings) -> None: ...
    def on_end(self, found: Findings) -> None: ...


class _NoHooks:
    def on_anchor(self, seal: Seal, found: Findings) -> None:
        return None

    def on_seal(self, seal: Seal, prev: Seal | None, found: Findings) -> None:
        return None

    def on_record(self, entry: ChainEntry, seal: Seal, head: bytes, found: Findings) -> None:
        return None

    def on_end(self, found: Findings) -> None:
        return None


class SealChain(_NoHooks):
    """Seal numbering, the MAC chain, epochs in order, never going back in the records."""

    def on_anchor(self, seal: Seal, found: Findings) -> None:
        if seal.seal_no == 1:  # the store's first seal: it must start the seal chain
            self.on_seal(seal, None, found)

    def on_seal(self, seal: Seal, prev: Seal | None, found: Findings) -> None:
        where = f"seal {seal.seal_no} (epoch {seal.epoch})"
        prev_no = 0 if prev is None else prev.seal_no
        if seal.seal_no != prev_no + 1:
            found.problem(f"{where}: seal numbers jump from {prev_no} "
                          "(seals deleted or reordered)")
        if not hmac.compare_digest(seal.prev_mac, GENESIS_MAC if prev is None else prev.mac):
            found.problem(f"{where}: does not chain to the seal before it")
        if prev is None:
            expected = 0
        elif prev.kind == "end":
            expected = prev.epoch + 1
        else:
            expected = prev.epoch
        if seal.epoch != expected:
            after = "the start" if prev is None else f"epoch {prev.epoch}"
            found.problem(f"{where}: epoch out of order after {after}")
        if prev is not None and seal.last_seq < prev.last_seq:
            found.problem(f"{where}: covers records before the previous seal (reordered)")


class SealMacs(_NoHooks):
    """Each seal's MAC under the seal key of its own epoch, from the verification key."""

    def __init__(self, store_id: bytes, seed: bytes) -> None:
        self._store_id = store_id
        self._schedule = KeySchedule(seed)

    def on_anchor(self, seal: Seal, found: Findings) -> None:
        self.on_seal(seal, None, found)

    def on_seal(self, seal: Seal, prev: Seal | None, found: Findings) -> None:
        if seal_is_valid(self._schedule.seal_key_for(seal.epoch), self._store_id, seal):
            found.seals_authenticated += 1
        else:
            found.problem(f"seal {seal.seal_no} (epoch {seal.epoch}): MAC was not made with "
                          f"the key of epoch {seal.epoch} (forged, altered, or sealed with a "
                          "later key)")


class RecordFields(_NoHooks):
    """Each record's epoch is its seal's, and its ciphertext matches its body hash."""

    def on_record(self, entry: ChainEntry, seal: Seal, head: bytes, found: Findings) -> None:
        seq = entry.seq
        if entry.header.epoch != seal.epoch:
            found.problem(f"record {seq}: epoch {entry.header.epoch} but sealed in "
                          f"epoch {seal.epoch}")
        if entry.ct is None:
            found.tombstones += 1
        elif not hmac.compare_digest(hashlib.sha256(entry.ct).digest(), entry.body_hash):
            found.problem(f"record {seq}: ciphertext altered (body hash mismatch)")


def standard_checks(store_id: bytes, seed: bytes | None) -> list[Check]:
    """The checks every verifier runs; the seal MACs only with the verification key."""
    checks: list[Check] = [SealChain(), RecordFields()]
    if seed is not None:
        checks.append(SealMacs(store_id, seed))
    return checks


def check_chain(
    seals: Sequence[Seal],
    entries: Iterable[ChainEntry],
    start: Start,
    *,
    checks: Sequence[Check],
    shredded: frozenset[int] | set[int] = frozenset(),
    found: Findings | None = None,
) -> Findings:
    """Walk `seals` (after `start.anchor`) over `entries`, recomputing the chain, and run
    `checks`; the chain links, gaps, order and seal hashes are checked by the walk itself."""
    found = Findings() if found is None else found
    rows: Iterator[ChainEntry] = iter(entries)
    pending = next(rows, None)
    head, expected, prev = start.head, start.first_seq, start.anchor
    if prev is not None:
        found.seals += 1
        for check in checks:
            check.on_anchor(prev, found)
    for s in seals:
        found.seals += 1
        for check in checks:
            check.on_seal(s, prev, found)
        prev = s
        in_range: list[ChainEntry] = []
        while pending is not None and pending.seq <= s.last_seq:
            in_range.append(pending)
            pending = next(rows, None)
        if not in_range and s.last_seq >= expected and s.epoch in shredded:
            found.notes.append(f"records {_gap(expected, s.last_seq + 1)} absent (shredded "
                               f"epoch {s.epoch}); bridged by seal {s.seal_no}")
            head, expected = s.last_hash, s.last_seq + 1  # authenticated by the seal
            continue
        for entry in in_range:
            seq = entry.seq
            if seq > expected:
                found.problem(f"records {_gap(expected, seq)} missing (deleted rows)")
            elif seq < expected:
                found.problem(f"record {seq}: out of order after record {expected - 1} "
                              "(reordered or repeated)")
            if not hmac.compare_digest(entry.header.prev_hash, head):
                found.problem(f"record {seq}: chain link broken (a record before it was "
                              "deleted, reordered or altered)")
            for check in checks:
                check.on_record(entry, s, head, found)
            head = chain_hash(entry.header.encode(), entry.body_hash, entry.media)
            expected = max(expected, seq + 1)
            found.records += 1
        if expected <= s.last_seq:
            found.problem(f"records {_gap(expected, s.last_seq + 1)} missing before seal "
                          f"{s.seal_no} (deleted or truncated)")
        if not hmac.compare_digest(head, s.last_hash):
            found.problem(f"seal {s.seal_no}: chain hash does not match the records it "
                          f"covers (up to record {s.last_seq})")
        head, expected = s.last_hash, max(expected, s.last_seq + 1)
    extra: list[int] = []
    while pending is not None:
        extra.append(pending.seq)
        found.records += 1
        pending = next(rows, None)
    if extra:
        found.problem(f"records {ranges(extra)} are not covered by any seal")
    for check in checks:
        check.on_end(found)
    return found


def _gap(first: int, end: int) -> str:
    return f"{first}" if end - first <= 1 else f"{first}..{end - 1}"


def ranges(values: list[int]) -> str:
    """`1..4, 7, 9..10` for sorted integers (at most ten ranges, then `...`)."""
    if not values:
        return ""
    out: list[str] = []
    start = prev = values[0]
    for v in values[1:]:
        if v != prev + 1:
            out.append(str(start) if start == prev else f"{start}..{prev}")
            start = v
        prev = v
    out.append(str(start) if start == prev else f"{start}..{prev}")
    text = ", ".join(out[:10])
    return text + (", ..." if len(out) > 10 else "")
