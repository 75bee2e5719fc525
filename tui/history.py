"""Decrypting a `history.fetch` hand-out in the TUI's own process.

The decoding is the store's own (controller.store.handout, controller.store.identity); this
module adapts it to the TUI's types: secrets that hide in reprs, records with their event
metadata and media, and errors the screens show. The app runs these in a thread.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from controller.control import schema
from controller.errors import EdgewardenError
from controller.store.handout import HandoutReader
from controller.store.identity import WrongPassphrase, decrypt_identity
from tui.model import EventMeta
from tui.secret import HandoutError, Identity, OpenedRecord, Passphrase

__all__ = ["HandoutError", "Identity", "OpenedRecord", "Passphrase", "WrongPassphrase",
           "identity_blob", "open_handout", "unlock_identity"]


def unlock_identity(encrypted_identity: bytes, secret: Passphrase) -> Identity:
    """Open the passphrase-encrypted identity file (slow on purpose: scrypt); a wrong
    passphrase is the store's `WrongPassphrase`."""
    try:
        return Identity(decrypt_identity(encrypted_identity, secret.reveal(),
                                         "the record identity"))
    except WrongPassphrase:
        raise
    except EdgewardenError as exc:
        raise HandoutError(str(exc)) from None


def _handout(raw: Any) -> schema.Handout:
    """A `history.fetch` answer as the schema's Handout (another shape: HandoutError)."""
    try:
        return schema.decode_reply("history.fetch", raw, schema.Handout)
    except schema.ReplyMismatch as exc:
        raise HandoutError(str(exc)) from None


def identity_blob(raw: Any) -> bytes:
    """The passphrase-encrypted identity a `history.fetch` answer carries."""
    value = _handout(raw).identity
    if value is None:
        raise HandoutError("identity: the device keeps none (use the identity kept off it)")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise HandoutError("identity: not valid base64") from None


def open_handout(raw: Any, identity: Identity) -> list[OpenedRecord]:
    """Decrypt every record of a `history.fetch` result; raises HandoutError on tampering
    or on an answer not of the schema's shape."""
    handout = _handout(raw)
    out: list[OpenedRecord] = []
    try:
        reader = HandoutReader(raw, identity.age_identity)  # the store's reader reads data
        for typed, raw_record in zip(handout.records, raw["records"], strict=True):
            record = reader.open(raw_record)
            if record is None:
                continue  # the epoch was crypto-shredded: nothing left to read
            media: dict[str, bytes] = {}
            types: dict[str, str] = {}
            for ref in record.media:
                types[ref.sha256] = ref.content_type
                data = reader.media(ref.sha256)
                if data is not None:
                    media[ref.sha256] = data
            meta = EventMeta(
                id=record.seq, time=record.t_wall, kind=record.kind, source=record.source,
                severity=record.severity, epoch=record.epoch, seal=typed.seal,
            )
            out.append(OpenedRecord(meta=meta, body=record.body, media=media,
                                    media_types=types))
    except EdgewardenError as exc:
        raise HandoutError(str(exc)) from None
    return out
