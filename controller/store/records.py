"""Record encoding and the hash chain (pure; no I/O, no clock).

A stored record is a plaintext header (what queries and retention need) plus an
AES-256-GCM ciphertext of everything else. The header is the AEAD's associated data, and
the chain hash of record n covers its header (which holds the chain hash of record n-1),
the hash of its ciphertext and the hashes of its media files. Keeping `body_hash` in the
row lets the chain verify after retention has dropped a ciphertext (a tombstone).
"""

from __future__ import annotations

import functools
import hashlib
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from controller.camera.media import MediaRef

# "recording": one video segment of a camera (its file named in the chain like any media)
# "link": refused serial frames summarised per port and interval
# "plate": one vehicle track's plate read (the text only in the encrypted body)
KINDS = ("reading", "alarm", "event", "health", "audit", "link", "recording", "plate")
# kinds that keep flowing into the reserved space when the disk is nearly full
PROTECTED_KINDS = frozenset({"alarm", "audit"})
HASH_BYTES = 32
_MAX_TEXT = 200
_HEAD = struct.Struct(">4sQdI")
_MAGIC = b"EWR1"
_CHAIN = b"EWC1"
_GENESIS = b"EWG1"


@dataclass(frozen=True)
class Header:
    """The plaintext part of a record; all of it is authenticated as AEAD data."""

    seq: int
    t_wall: float
    epoch: int
    kind: str
    source: str
    severity: str
    prev_hash: bytes

    def encode(self) -> bytes:
        return encode_header(self.seq, self.t_wall, self.epoch, self.kind, self.source,
                             self.severity, self.prev_hash)


def encode_header(
    seq: int, t_wall: float, epoch: int, kind: str, source: str, severity: str,
    prev_hash: bytes,
) -> bytes:
    """`Header(...).encode()` without building the object (the writer's hot path)."""
    return (
        _HEAD.pack(_MAGIC, seq, t_wall, epoch)
        + _text(kind) + _text(source) + _text(severity) + prev_hash
    )


@dataclass(frozen=True)
class Record(Header):
    """A decrypted record as history readers see it: its header, then what it says."""

    body: dict[str, Any]
    media: tuple[MediaRef, ...] = ()
    t_mono: float | None = None
    boot_id: str = ""
    clock_synced: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@functools.lru_cache(maxsize=4096)
def _text(value: str) -> bytes:
    raw = value.encode("utf-8")
    return struct.pack(">H", len(raw)) + raw


_KIND_SET = frozenset(KINDS)


def check_header_fields(kind: str, source: str, severity: str) -> None:
    """ValueError naming the field when a header value is not storable."""
    if (kind in _KIND_SET and type(source) is str and type(severity) is str
            and len(source) <= _MAX_TEXT and len(severity) <= _MAX_TEXT):
        return  # the common case, checked cheaply: this runs for every record
    if kind not in KINDS:
        raise ValueError(f"unknown record kind {kind!r} (known: {', '.join(KINDS)})")
    for name, value in (("source", source), ("severity", severity)):
        if not isinstance(value, str) or len(value) > _MAX_TEXT:
            raise ValueError(f"record {name} must be a string of at most {_MAX_TEXT} chars")


def genesis_hash(store_id: bytes) -> bytes:
    """The chain hash "before" record 1, unique per store."""
    return hashlib.sha256(_GENESIS + store_id).digest()


def nonce_for(seq: int) -> bytes:
    """The GCM nonce: the record's sequence number, unique per store and epoch key."""
    return seq.to_bytes(12, "big")


def media_digest(hashes: Sequence[str]) -> bytes:
    """What the chain covers of a record's media: empty when there is none."""
    if not hashes:
        return b""
    # hex names are ASCII; a tampered name (a bundle's JSON can hold any text) must make a
    # different digest, never an exception in the verifier
    return hashlib.sha256("\n".join(sorted(hashes)).encode("utf-8", "surrogatepass")).digest()


def chain_hash(header_bytes: bytes, body_hash: bytes, media_hashes: Sequence[str] = ()) -> bytes:
    tail = media_digest(media_hashes) if media_hashes else b""
    return hashlib.sha256(_CHAIN + header_bytes + body_hash + tail).digest()


# the strict reference encoder: json.dumps with options builds a new one per call
_BODY_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
# the fast one (~10x cheaper per record): msgspec, trusted only when its output decodes
# back to an equal document (see `_encode_doc`)
_FAST_ENCODER = msgspec.json.Encoder()
_FAST_DECODER = msgspec.json.Decoder()


def _flat_json(body: dict[str, Any]) -> bool:
    """True when `body` is one level of str keys to str, int, bool, None or finite floats:
    a reading's shape, which msgspec encodes exactly as json does (checked faster than
    a round trip)."""
    for key, value in body.items():
        t = type(value)
        if type(key) is not str or not (t is str or t is int or t is bool or value is None
                                        or (t is float and value - value == 0)):
            return False
    return True


def _encode_doc(doc: dict[str, Any], plain: bool) -> bytes:
    """Compact JSON of `doc`, accepting exactly what the strict json encoder accepts.

    msgspec is lenient where json is not (NaN and infinities become null, bytes base64,
    sets and datetimes are encoded), so its output is used only when the caller checked
    that `doc` holds nothing but plain values (`plain`) or when it decodes to a document
    equal to `doc`; anything else (NaN, bytes, tuples, int keys, ...) goes through the
    strict encoder, which either encodes it as before or refuses it.
    """
    try:
        fast = _FAST_ENCODER.encode(doc)
        if plain or _FAST_DECODER.decode(fast) == doc:
            return fast
    except (TypeError, ValueError, OverflowError, RecursionError, msgspec.MsgspecError):
        pass
    return _BODY_ENCODER.encode(doc).encode("utf-8")


def encode_body(
    body: dict[str, Any],
    media: Sequence[MediaRef],
    t_mono: float | None,
    boot_id: str,
    clock_synced: bool,
) -> bytes:
    """The secret part of a record as compact JSON (ValueError if not JSON-able)."""
    doc: dict[str, Any] = {"b": body, "boot": boot_id, "sync": clock_synced}
    if t_mono is not None:
        doc["mono"] = t_mono
    if media:
        doc["m"] = [{"h": m.sha256, "t": m.content_type, "n": m.size} for m in media]
    try:
        plain = (not media and type(boot_id) is str and type(clock_synced) is bool
                 and (t_mono is None or (type(t_mono) is float and t_mono - t_mono == 0))
                 and type(body) is dict and _flat_json(body))
        return _encode_doc(doc, plain)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"record body is not JSON-serialisable: {exc}") from None


def seal_record(aead: AESGCM, header: Header, plaintext: bytes) -> tuple[bytes, bytes]:
    """Encrypt one record: returns (ciphertext with tag, sha256 of it)."""
    ct = aead.encrypt(nonce_for(header.seq), plaintext, header.encode())
    return ct, hashlib.sha256(ct).digest()


def open_record(aead: AESGCM, header: Header, ciphertext: bytes) -> Record:
    """Decrypt and decode one record; raises cryptography's InvalidTag if altered."""
    plain = aead.decrypt(nonce_for(header.seq), ciphertext, header.encode())
    doc = json.loads(plain)
    media = tuple(MediaRef(m["h"], m["t"], int(m["n"])) for m in doc.get("m", ()))
    return Record(
        seq=header.seq,
        t_wall=header.t_wall,
        epoch=header.epoch,
        kind=header.kind,
        source=header.source,
        severity=header.severity,
        prev_hash=header.prev_hash,
        body=doc["b"],
        media=media,
        t_mono=doc.get("mono"),
        boot_id=doc.get("boot", ""),
        clock_synced=bool(doc.get("sync", False)),
    )
