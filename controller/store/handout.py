"""History over the control socket: the service hands out ciphertext, the client decrypts.

Service side (`list_headers`, `hand_out`) reads plaintext headers, ciphertext bodies,
age-encrypted epoch keys and the passphrase-encrypted identity, and never decrypts
anything. Client side (`HandoutReader`) unlocks the identity with the passphrase the user
typed, in the client's own process, and checks every AEAD tag as it opens records.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyrage
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from controller.errors import EdgewardenError
from controller.store import database
from controller.store.identity import decrypt_identity, is_encrypted_identity
from controller.store.layout import StoreLayout
from controller.store.records import Header, Record, open_record

HANDOUT_FORMAT = 1
MEDIA_BUDGET_BYTES = 32 * 2**20  # media ciphertext handed out with one history request


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _where(since: float | None, until: float | None, kinds: Sequence[str] | None,
           ) -> tuple[str, list[Any]]:
    clauses = ["1"]
    params: list[Any] = []
    if since is not None:
        clauses.append("r.t_wall >= ?")
        params.append(float(since))
    if until is not None:
        clauses.append("r.t_wall <= ?")  # inclusive: a record's own time finds it
        params.append(float(until))
    if kinds:
        clauses.append(f"r.kind IN ({','.join('?' * len(kinds))})")
        params.extend(kinds)
    return " AND ".join(clauses), params


def list_headers(db_path: Path, since: float | None, until: float | None,
                 kinds: Sequence[str] | None, limit: int) -> list[dict[str, Any]]:
    """Newest first: the plaintext metadata of records (no ciphertext, nothing secret).

    ``kinds`` filters in the query, before the limit: readings arrive many times a second
    and would otherwise push every event and alarm out of the newest ``limit`` records.
    """
    conn = database.connect(db_path, readonly=True)
    try:
        where, params = _where(since, until, list(kinds) if kinds else None)
        media = "(SELECT COUNT(*) FROM media m WHERE m.seq = r.seq AND m.state = 'stored')"
        # `where` holds only fixed clauses with ? placeholders
        sql = f"SELECT r.seq, r.t_wall, r.epoch, r.kind, r.source, r.severity, {media} FROM records r WHERE {where} ORDER BY r.seq DESC LIMIT ?"  # noqa: S608, E501
        rows = conn.execute(sql, [*params, max(1, min(limit, 10_000))]).fetchall()
    finally:
        conn.close()
    return [{"id": seq, "time": t, "epoch": epoch, "kind": k, "source": src,
             "severity": sev, "media": n} for seq, t, epoch, k, src, sev, n in rows]


def hand_out(layout: StoreLayout, since: float | None, until: float | None,
             kinds: Sequence[str] | None, limit: int) -> dict[str, Any]:
    """Ciphertext records (oldest first), their epochs' wrapped keys and the identity."""
    conn = database.connect(layout.database, readonly=True)
    try:
        where, params = _where(since, until, kinds)
        cols = "r.seq, r.t_wall, r.epoch, r.kind, r.source, r.severity, r.prev_hash, b.ct"
        sql = f"SELECT {cols} FROM records r JOIN bodies b ON b.seq = r.seq WHERE {where} ORDER BY r.seq DESC LIMIT ?"  # noqa: S608, E501
        rows = conn.execute(sql, [*params, max(1, min(limit, 50_000))]).fetchall()
        rows.reverse()
        sealed_to = conn.execute("SELECT COALESCE(MAX(last_seq), 0) FROM seals").fetchone()[0]
        media_rows: list[tuple[int, str]] = []
        if rows:
            media_rows = conn.execute(
                "SELECT seq, sha256 FROM media WHERE state = 'stored' AND seq BETWEEN ? AND ?",
                (rows[0][0], rows[-1][0]),
            ).fetchall()
        epochs = sorted({r[2] for r in rows})
        keys: dict[str, str | None] = {}
        for epoch in epochs:
            row = conn.execute("SELECT wrapped_key FROM epochs WHERE epoch = ?",
                               (epoch,)).fetchone()
            keys[str(epoch)] = _b64(bytes(row[0])) if row and row[0] is not None else None
    finally:
        conn.close()
    wanted = {r[0] for r in rows}
    media: dict[str, str] = {}
    omitted = 0
    budget = MEDIA_BUDGET_BYTES
    for seq, sha in media_rows:
        if seq not in wanted or sha in media:
            continue
        path = layout.media_file(sha)
        try:
            size = path.stat().st_size
            if size > budget:
                omitted += 1
                continue
            media[sha] = _b64(path.read_bytes())  # age ciphertext, as stored
            budget -= size
        except FileNotFoundError:
            omitted += 1  # shed for space or by retention
    identity = None
    if layout.identity.exists():
        identity = _b64(layout.identity.read_bytes())  # passphrase-encrypted (age scrypt)
    return {
        "format": HANDOUT_FORMAT,
        "records": [
            {"id": seq, "time": t, "epoch": epoch, "kind": kind, "source": src,
             "severity": sev, "prev_hash": _b64(bytes(prev)), "ct": _b64(bytes(ct)),
             "seal": "sealed" if seq <= sealed_to else "pending"}
            for seq, t, epoch, kind, src, sev, prev, ct in rows
        ],
        "epoch_keys": keys,
        "media": media,
        "media_omitted": omitted,
        "identity": identity,
    }


def unlock_handed_identity(handout: dict[str, Any], passphrase: str,
                           ) -> pyrage.x25519.Identity:
    """The identity from a handout, decrypted with the user's passphrase (client side)."""
    blob = handout.get("identity")
    if not blob:
        raise EdgewardenError("the device keeps no identity: use the identity file kept "
                              "off the device")
    data = _unb64(blob, "identity")
    if not is_encrypted_identity(data):
        raise EdgewardenError("the device's identity is not passphrase-protected")
    return decrypt_identity(data, passphrase, "device identity")


def _unb64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise EdgewardenError(f"{what}: expected base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise EdgewardenError(f"{what}: not valid base64") from None


class HandoutReader:
    """Decrypts a handout with an unlocked identity; every AEAD tag is checked."""

    def __init__(self, handout: dict[str, Any], identity: pyrage.x25519.Identity) -> None:
        if handout.get("format", HANDOUT_FORMAT) != HANDOUT_FORMAT:
            raise EdgewardenError("unknown history handout format")
        self._handout = handout
        self._identity = identity
        self._aead: dict[int, AESGCM | None] = {}

    def _key(self, epoch: int) -> AESGCM | None:
        if epoch not in self._aead:
            wrapped = (self._handout.get("epoch_keys") or {}).get(str(epoch))
            if wrapped is None:
                self._aead[epoch] = None  # shredded by retention
            else:
                try:
                    key = pyrage.decrypt(_unb64(wrapped, f"epoch {epoch} key"),
                                         [self._identity])
                except pyrage.DecryptError:
                    raise EdgewardenError(f"epoch {epoch}: key not readable with this "
                                          "identity") from None
                self._aead[epoch] = AESGCM(bytes(key))
        return self._aead[epoch]

    def open(self, raw: dict[str, Any]) -> Record | None:
        """One handed-out record decrypted; None when its epoch was crypto-shredded."""
        try:
            header = Header(int(raw["id"]), float(raw["time"]), int(raw["epoch"]),
                            str(raw["kind"]), str(raw["source"]), str(raw["severity"]),
                            _unb64(raw["prev_hash"], "prev_hash"))
        except (KeyError, TypeError, ValueError, EdgewardenError):
            raise EdgewardenError(f"record {raw.get('id', '?')}: header incomplete") from None
        aead = self._key(header.epoch)
        if aead is None:
            return None
        try:
            return open_record(aead, header, _unb64(raw.get("ct"), f"record {header.seq}"))
        except InvalidTag:
            raise EdgewardenError(f"record {header.seq}: ciphertext or header altered "
                                  "(AEAD tag fails)") from None
        except (ValueError, KeyError, TypeError):
            raise EdgewardenError(f"record {header.seq}: body does not decode") from None

    def records(self) -> Iterator[Record]:
        for raw in self._handout.get("records") or []:
            record = self.open(raw)
            if record is not None:
                yield record

    def media(self, sha256: str) -> bytes | None:
        """A handed-out media file decrypted (None when it was not handed out)."""
        blob = (self._handout.get("media") or {}).get(sha256)
        if blob is None:
            return None
        try:
            return bytes(pyrage.decrypt(_unb64(blob, "media"), [self._identity]))
        except pyrage.DecryptError:
            raise EdgewardenError(f"media {sha256[:12]}: not readable with this identity") from None

    def __repr__(self) -> str:
        return f"HandoutReader({len(self._handout.get('records') or [])} records)"
