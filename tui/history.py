"""Decrypting a `history.fetch` hand-out in the TUI's own process.

The decoding is the store's own (controller.store.handout, controller.store.identity); this
module adapts it to the TUI's types: secrets that hide in reprs, records with their event
metadata and media, and errors the screens show. The app runs these in a thread.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from controller.errors import EdgewardenError
from controller.store.handout import HandoutReader
from controller.store.identity import WrongPassphraseError, decrypt_identity
from tui.model import EventMeta
from tui.secret import HandoutError, Identity, OpenedRecord, Passphrase, WrongPassphrase

__all__ = ["HandoutError", "Identity", "OpenedRecord", "Passphrase", "WrongPassphrase",
           "identity_blob", "open_handout", "unlock_identity"]


def unlock_identity(encrypted_identity: bytes, secret: Passphrase) -> Identity:
    """Open the passphrase-encrypted identity file (slow on purpose: scrypt)."""
    try:
        return Identity(decrypt_identity(encrypted_identity, secret.reveal(), "identity"))
    except WrongPassphraseError:
        raise WrongPassphrase("the passphrase does not open the record identity") from None
    except EdgewardenError as exc:
        raise HandoutError(str(exc)) from None


def identity_blob(handout: Mapping[str, Any]) -> bytes:
    value = handout.get("identity")
    if not isinstance(value, str):
        raise HandoutError("identity: the device keeps none (use the identity kept off it)")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise HandoutError("identity: not valid base64") from None


def open_handout(handout: Mapping[str, Any], identity: Identity) -> list[OpenedRecord]:
    """Decrypt every record of a `history.fetch` result; raises HandoutError on tampering."""
    out: list[OpenedRecord] = []
    try:
        reader = HandoutReader(dict(handout), identity.age_identity)
        records = handout.get("records")
        for raw in records if isinstance(records, list) else []:
            if not isinstance(raw, dict):
                continue
            record = reader.open(raw)
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
                severity=record.severity, epoch=record.epoch,
                seal=str(raw.get("seal", "unknown")),
            )
            out.append(OpenedRecord(meta=meta, body=record.body, media=media,
                                    media_types=types))
    except EdgewardenError as exc:
        raise HandoutError(str(exc)) from None
    return out
