"""Decrypting a `history.fetch` hand-out in the TUI's own process.

The service never reads history: it hands over the passphrase-encrypted identity, the
age-encrypted epoch keys, the record ciphertexts with their plaintext headers, and the
age-encrypted media. Here the passphrase opens the identity, the identity opens the epoch
keys, and each epoch key opens its records (AES-256-GCM, header as associated data, using
the store's own record codec). Pure functions on bytes; the app runs them in a thread.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import pyrage
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pyrage import passphrase as age_passphrase
from pyrage import x25519

from controller.store.records import Header, open_record
from tui.model import EventMeta
from tui.secret import HandoutError, Identity, OpenedRecord, Passphrase, WrongPassphrase

__all__ = ["HandoutError", "Identity", "OpenedRecord", "Passphrase", "WrongPassphrase",
           "identity_blob", "open_handout", "unlock_identity"]


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise HandoutError(f"{what}: expected base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise HandoutError(f"{what}: not valid base64") from None


def unlock_identity(encrypted_identity: bytes, secret: Passphrase) -> Identity:
    """Open the passphrase-encrypted identity file (slow on purpose: scrypt)."""
    try:
        plain = age_passphrase.decrypt(encrypted_identity, secret.reveal())
    except pyrage.DecryptError:
        raise WrongPassphrase("the passphrase does not open the record identity") from None
    for line in plain.decode("utf-8", "replace").splitlines():
        if line.startswith("AGE-SECRET-KEY-"):
            try:
                return Identity(x25519.Identity.from_str(line.strip()))
            except pyrage.IdentityError:
                break
    raise HandoutError("the identity file holds no age X25519 identity")


def identity_blob(handout: Mapping[str, Any]) -> bytes:
    return _b64(handout.get("identity"), "identity")


def open_handout(handout: Mapping[str, Any], identity: Identity) -> list[OpenedRecord]:
    """Decrypt every record of a `history.fetch` result; raises HandoutError on tampering."""
    keys: dict[int, AESGCM] = {}
    raw_keys = handout.get("epoch_keys")
    if not isinstance(raw_keys, dict):
        raw_keys = {}
    raw_media = handout.get("media")
    if not isinstance(raw_media, dict):
        raw_media = {}
    out: list[OpenedRecord] = []
    records = handout.get("records")
    for raw in records if isinstance(records, list) else []:
        if not isinstance(raw, dict):
            continue
        try:
            header = Header(
                seq=int(raw.get("seq", raw.get("id"))),  # type: ignore[arg-type]
                t_wall=float(raw.get("t_wall", raw.get("time"))),  # type: ignore[arg-type]
                epoch=int(raw["epoch"]),
                kind=str(raw["kind"]),
                source=str(raw["source"]),
                severity=str(raw["severity"]),
                prev_hash=_b64(raw["prev_hash"], "prev_hash"),
            )
        except (KeyError, TypeError, ValueError, HandoutError):
            raise HandoutError(f"record {raw.get('id', '?')}: header incomplete") from None
        what = f"record {header.seq}"
        aead = keys.get(header.epoch)
        if aead is None:
            if raw_keys.get(str(header.epoch)) is None:
                continue  # the epoch was crypto-shredded: nothing left to read
            sealed_key = _b64(raw_keys.get(str(header.epoch)), f"epoch {header.epoch} key")
            try:
                key = pyrage.decrypt(sealed_key, [identity.age_identity])
            except pyrage.DecryptError:
                raise HandoutError(f"epoch {header.epoch} key: not for this identity") from None
            aead = keys[header.epoch] = AESGCM(key)
        try:
            ciphertext = _b64(raw.get("ciphertext", raw.get("ct")), what)
            record = open_record(aead, header, ciphertext)
        except InvalidTag:
            raise HandoutError(f"{what}: ciphertext or header altered") from None
        except (ValueError, KeyError, TypeError):
            raise HandoutError(f"{what}: body does not decode") from None
        media: dict[str, bytes] = {}
        types: dict[str, str] = {}
        for ref in record.media:
            types[ref.sha256] = ref.content_type
            if ref.sha256 in raw_media:
                blob = _b64(raw_media[ref.sha256], f"{what} media")
                try:
                    media[ref.sha256] = pyrage.decrypt(blob, [identity.age_identity])
                except pyrage.DecryptError:
                    raise HandoutError(f"{what} media: not for this identity") from None
        meta = EventMeta(
            id=header.seq, time=header.t_wall, kind=header.kind, source=header.source,
            severity=header.severity, epoch=header.epoch,
            seal=str(raw.get("seal", "unknown")),
        )
        out.append(OpenedRecord(meta=meta, body=record.body, media=media, media_types=types))
    return out
