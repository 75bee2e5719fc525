"""The encrypt-chain-seal fold (sans-IO: no files, no SQLite, no clock, no threads).

Given an epoch's keys, where the chain stands (next seq, chain head, last seal) and the
records of one batch, `fold_batch` returns the rows to insert (ciphertext, header
columns, media), the seals to write and the position after them. The writer commits
what it returns and only then adopts the new position, so a failed commit leaves the
chain where it was. `end_seal` is the seal that closes an epoch. The verifier
(`chain_check.py`) recomputes the same chain from the stored rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from controller.store.records import MediaRef, chain_hash, encode_header, genesis_hash, nonce_for
from controller.store.sealing import GENESIS_MAC, Seal, make_seal


@dataclass(frozen=True)
class ChainPosition:
    """Where the record chain and the seal chain stand after the last durable commit."""

    next_seq: int
    head: bytes
    seal_no: int = 0
    last_mac: bytes = GENESIS_MAC
    since_seal: int = 0  # records since the last seal (0 after every commit)

    @classmethod
    def genesis(cls, store_id: bytes) -> ChainPosition:
        return cls(1, genesis_hash(store_id))


@dataclass(frozen=True)
class EpochWriteKeys:
    """What writing into an open epoch needs: its data key and its seal key."""

    store_id: bytes
    epoch: int
    aead: AESGCM | None = field(repr=False)  # None once the epoch is ended (or inherited)
    seal_key: bytes = field(repr=False)


class PendingRecord(Protocol):
    """A record before encryption: header fields, the encoded secret part, its media."""

    @property
    def kind(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def plain(self) -> bytes: ...
    @property
    def media(self) -> tuple[MediaRef, ...]: ...
    @property
    def t_wall(self) -> float: ...


@dataclass(frozen=True)
class FoldedBatch:
    """What one commit writes, and the position once it is durable."""

    # (seq, t_wall, epoch, kind, source, severity, prev_hash, body_hash): `records` columns
    records: list[tuple[int, float, int, str, str, str, bytes, bytes]]
    bodies: list[tuple[int, bytes]]  # (seq, ciphertext)
    media: list[tuple[int, str, int, float]]  # (seq, sha256, size, t_wall)
    seals: list[Seal]
    position: ChainPosition


def _seal(keys: EpochWriteKeys, kind: str, seal_no: int, last_seq: int, last_hash: bytes,
          prev_mac: bytes, now: float) -> Seal:
    return make_seal(keys.seal_key, keys.store_id, seal_no=seal_no + 1, epoch=keys.epoch,
                     kind=kind, last_seq=last_seq, last_hash=last_hash, t_wall=now,
                     prev_mac=prev_mac)


def fold_batch(keys: EpochWriteKeys, pos: ChainPosition, batch: Sequence[PendingRecord],
               *, now: float, seal_every: int) -> FoldedBatch:
    """Encrypt, chain and seal `batch` from `pos`: a seal every `seal_every` records and
    one after the last, so every record of a commit is sealed by that commit."""
    epoch, aead = keys.epoch, keys.aead
    if aead is None:
        raise ValueError(f"epoch {epoch} has no data key: it cannot take records")
    seq, head, since = pos.next_seq, pos.head, pos.since_seal
    seal_no, last_mac = pos.seal_no, pos.last_mac
    every = max(1, seal_every)
    records: list[tuple[int, float, int, str, str, str, bytes, bytes]] = []
    bodies: list[tuple[int, bytes]] = []
    media_rows: list[tuple[int, str, int, float]] = []
    seals: list[Seal] = []
    sha256 = hashlib.sha256
    for item in batch:
        hb = encode_header(seq, item.t_wall, epoch, item.kind, item.source, item.severity, head)
        ct = aead.encrypt(nonce_for(seq), item.plain, hb)
        body_hash = sha256(ct).digest()
        records.append((seq, item.t_wall, epoch, item.kind, item.source, item.severity,
                        head, body_hash))
        bodies.append((seq, ct))
        if item.media:
            media_rows.extend((seq, m.sha256, m.size, item.t_wall) for m in item.media)
            head = chain_hash(hb, body_hash, [m.sha256 for m in item.media])
        else:
            head = chain_hash(hb, body_hash)
        since += 1
        if since >= every:
            seal = _seal(keys, "batch", seal_no, seq, head, last_mac, now)
            seals.append(seal)
            seal_no, last_mac, since = seal.seal_no, seal.mac, 0
        seq += 1
    if since:
        seal = _seal(keys, "batch", seal_no, seq - 1, head, last_mac, now)
        seals.append(seal)
        seal_no, last_mac, since = seal.seal_no, seal.mac, 0
    return FoldedBatch(records, bodies, media_rows, seals,
                       ChainPosition(seq, head, seal_no, last_mac, since))


def end_seal(keys: EpochWriteKeys, pos: ChainPosition, *, now: float) -> tuple[Seal,
                                                                              ChainPosition]:
    """The seal that closes `keys.epoch` at `pos`, and the position once it is durable."""
    seal = _seal(keys, "end", pos.seal_no, pos.next_seq - 1, pos.head, pos.last_mac, now)
    return seal, ChainPosition(pos.next_seq, pos.head, seal.seal_no, seal.mac, 0)
