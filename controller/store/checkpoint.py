"""Checkpoints: signed statements of the chain's head that can leave the device (pure).

A checkpoint names the store, the last seal (number, epoch, time) and the record and
chain hash it covers, signed with the device's Ed25519 key in the C2SP signed-note
format (https://c2sp.org/signed-note). Whoever keeps a copy can later show that a store
or bundle is older than it (a rolled-back data directory), shorter (a cut tail) or forked
(the same seal number over different history): seals are never deleted, not even by
shredding, so seal N must still be there and cover the same record with the same hash.

Note text (every line ends in a newline; the signature covers it byte for byte):

    edgewarden/<store_id hex>
    <last record seq>
    <base64 of the chain hash after that record>
    seal <seal_no>
    epoch <epoch>
    time <UTC ISO 8601 of the seal>

followed by an empty line and `— <key name> <base64(key id (4) | signature (64))>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

ORIGIN_PREFIX = "edgewarden/"
_ALG_ED25519 = b"\x01"
_SIG_LINE = re.compile(r"^\u2014 (\S+) ([A-Za-z0-9+/=]+)$")
_MAX_TEXT = 4096


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or whose signature does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    store_id: str
    seal_no: int
    seq: int
    head: bytes
    epoch: int
    t_wall: float

    def body(self) -> str:
        when = datetime.fromtimestamp(int(self.t_wall), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (f"{ORIGIN_PREFIX}{self.store_id}\n{self.seq}\n"
                f"{base64.b64encode(self.head).decode()}\n"
                f"seal {self.seal_no}\nepoch {self.epoch}\ntime {when}\n")

    def describe(self) -> str:
        when = datetime.fromtimestamp(int(self.t_wall), UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return (f"seal {self.seal_no}, record {self.seq}, epoch {self.epoch}, {when}, "
                f"head {self.head.hex()[:16]}..")


def key_name(store_id: str) -> str:
    return f"edgewarden-{store_id[:16]}"


def key_id(name: str, public_raw: bytes) -> bytes:
    """The signed-note key hash: SHA-256(name | LF | 0x01 | public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + _ALG_ED25519 + public_raw).digest()[:4]


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sign(cp: Checkpoint, key: Ed25519PrivateKey) -> str:
    """The signed note of `cp`."""
    body = cp.body()
    name = key_name(cp.store_id)
    sig = key_id(name, _raw(key.public_key())) + key.sign(body.encode())
    return f"{body}\n\u2014 {name} {base64.b64encode(sig).decode()}\n"


def parse(text: str, public_key_hex: str) -> Checkpoint:
    """Read a signed note and check its signature with the store's public key."""
    if len(text) > _MAX_TEXT:
        raise CheckpointError("too long to be a checkpoint")
    body, sep, sigs = text.partition("\n\n")
    if not sep:
        raise CheckpointError("not a signed note (no empty line before the signature)")
    body += "\n"
    lines = body.split("\n")[:-1]
    if len(lines) != 6 or not lines[0].startswith(ORIGIN_PREFIX):
        raise CheckpointError("not an edgewarden checkpoint")
    try:
        public_raw = bytes.fromhex(public_key_hex.strip())
        public = Ed25519PublicKey.from_public_bytes(public_raw)
    except ValueError:
        raise CheckpointError("the signing public key is not 32 bytes of hex") from None
    store_id = lines[0][len(ORIGIN_PREFIX):]
    name = key_name(store_id)
    want_id = key_id(name, public_raw)
    signed = False
    for line in sigs.splitlines():
        m = _SIG_LINE.match(line)
        if m is None or m.group(1) != name:
            continue
        try:
            raw = base64.b64decode(m.group(2), validate=True)
        except binascii.Error:
            continue
        if len(raw) != 68 or raw[:4] != want_id:
            continue
        try:
            public.verify(raw[4:], body.encode())
        except InvalidSignature:
            raise CheckpointError("signature does not verify (altered, or signed by "
                                  "another key)") from None
        signed = True
    if not signed:
        raise CheckpointError(f"no signature by this store's key ({name}, "
                              f"{public_key_hex[:16]}..)")
    try:
        seq = int(lines[1])
        head = base64.b64decode(lines[2], validate=True)
        fields = dict(line.split(" ", 1) for line in lines[3:])
        seal_no, epoch = int(fields["seal"]), int(fields["epoch"])
        t_wall = datetime.strptime(fields["time"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=UTC).timestamp()
    except (ValueError, KeyError, binascii.Error):
        raise CheckpointError("signed, but its fields cannot be read") from None
    if len(head) != 32:
        raise CheckpointError("signed, but its head hash is not 32 bytes")
    return Checkpoint(store_id, seal_no, seq, head, epoch, t_wall)


@dataclass(frozen=True)
class SealHead:
    """What a store or bundle says about one seal (its number, epoch and what it covers)."""

    seal_no: int
    epoch: int
    last_seq: int
    last_hash: bytes


def compare(cp: Checkpoint, store_id: str, last_seal_no: int,
            seal_at: Callable[[int], SealHead | None], what: str = "store") -> str | None:
    """Why `what` is not a continuation of `cp`, or None when it contains it.

    `seal_at(n)` gives the store's seal number n (None when it has none by that number).
    """
    if cp.store_id != store_id:
        return f"is a checkpoint of another store ({cp.store_id[:16]}..)"
    if last_seal_no < cp.seal_no:
        return (f"the {what} ends at seal {last_seal_no}, before this checkpoint "
                f"({cp.describe()}): it is older than the checkpoint (rolled back) or its "
                "tail was cut")
    seal = seal_at(cp.seal_no)
    if seal is None:
        return (f"the {what} has no seal {cp.seal_no} ({cp.describe()}): seals were "
                "removed")
    if seal.last_seq != cp.seq or seal.epoch != cp.epoch or seal.last_hash != cp.head:
        return (f"the {what} forked from this checkpoint: its seal {cp.seal_no} covers record "
                f"{seal.last_seq} (epoch {seal.epoch}, head {seal.last_hash.hex()[:16]}..), "
                f"the checkpoint says {cp.describe()}")
    return None
