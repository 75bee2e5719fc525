"""Seals: HMACs over the hash chain, made with the key of their own epoch (pure).

A seal names its number, epoch, kind ("batch" after each durable commit, "end" when its
epoch closes), the last record it covers with that record's chain hash, its wall time
and the MAC of the seal before it, so seals form a chain of their own: a seal cannot be
dropped or reordered without breaking the next one.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

SEAL_KINDS = ("batch", "end")
_SEAL = struct.Struct(">4s16sQQ5sQd32s32s")
_MAGIC = b"EWS1"
GENESIS_MAC = bytes(32)


@dataclass(frozen=True)
class Seal:
    seal_no: int
    epoch: int
    kind: str
    last_seq: int
    last_hash: bytes
    t_wall: float
    prev_mac: bytes
    mac: bytes = b""

    def message(self, store_id: bytes) -> bytes:
        return _SEAL.pack(
            _MAGIC,
            store_id,
            self.seal_no,
            self.epoch,
            self.kind.encode("ascii").ljust(5, b"\0"),
            self.last_seq,
            self.t_wall,
            self.last_hash,
            self.prev_mac,
        )


def make_seal(
    key: bytes,
    store_id: bytes,
    *,
    seal_no: int,
    epoch: int,
    kind: str,
    last_seq: int,
    last_hash: bytes,
    t_wall: float,
    prev_mac: bytes,
) -> Seal:
    """A seal under `key` (the seal key of `epoch`; see keyschedule.seal_key)."""
    if kind not in SEAL_KINDS:
        raise ValueError(f"unknown seal kind {kind!r}")
    s = Seal(seal_no, epoch, kind, last_seq, last_hash, t_wall, prev_mac)
    mac = hmac.new(key, s.message(store_id), hashlib.sha256).digest()
    return Seal(seal_no, epoch, kind, last_seq, last_hash, t_wall, prev_mac, mac)


def seal_is_valid(key: bytes, store_id: bytes, seal: Seal) -> bool:
    expected = hmac.new(key, seal.message(store_id), hashlib.sha256).digest()
    return hmac.compare_digest(expected, seal.mac)
