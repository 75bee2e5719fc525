"""Reading history back: needs the identity, so it runs in the client, never the service."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import pyrage
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from controller.errors import EdgewardenError
from controller.store import database
from controller.store.layout import StoreLayout
from controller.store.media import read_media
from controller.store.records import Header, MediaRef, Record, open_record


class EpochKeys:
    """Unwraps epoch data keys with the identity, once each."""

    def __init__(self, conn: sqlite3.Connection, identity: pyrage.x25519.Identity) -> None:
        self._conn = conn
        self._identity = identity
        self._cache: dict[int, AESGCM | None] = {}

    def get(self, epoch: int) -> AESGCM | None:
        """The epoch's AEAD, None when the epoch was shredded; error if not ours to read."""
        if epoch not in self._cache:
            row = self._conn.execute(
                "SELECT wrapped_key FROM epochs WHERE epoch = ?", (epoch,)
            ).fetchone()
            if row is None or row[0] is None:
                self._cache[epoch] = None
            else:
                try:
                    key = pyrage.decrypt(bytes(row[0]), [self._identity])
                except pyrage.DecryptError:
                    raise EdgewardenError(
                        f"epoch {epoch}: data key cannot be decrypted with this identity"
                    ) from None
                self._cache[epoch] = AESGCM(bytes(key))
        return self._cache[epoch]

    def __repr__(self) -> str:
        return f"EpochKeys({len(self._cache)} unwrapped)"


class HistoryReader:
    """Decrypted records of a store, filtered by time, kind and source."""

    def __init__(self, data_dir: Path | str, identity: pyrage.x25519.Identity) -> None:
        self.layout = StoreLayout(Path(data_dir))
        self._identity = identity
        self._conn = database.connect(self.layout.database, readonly=True)
        self._keys = EpochKeys(self._conn, identity)

    def records(
        self,
        from_t: float | None = None,
        to_t: float | None = None,
        kinds: Collection[str] | None = None,
        sources: Collection[str] | None = None,
    ) -> Iterator[Record]:
        """Records with from_t <= t_wall < to_t, in sequence order; expired ones are absent."""
        where = ["1"]
        params: list[Any] = []
        if from_t is not None:
            where.append("r.t_wall >= ?")
            params.append(from_t)
        if to_t is not None:
            where.append("r.t_wall < ?")
            params.append(to_t)
        for column, values in (("r.kind", kinds), ("r.source", sources)):
            if values is not None:
                values = list(values)
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
        sql = (
            "SELECT r.seq, r.t_wall, r.epoch, r.kind, r.source, r.severity, r.prev_hash, b.ct "
            "FROM records r JOIN bodies b ON b.seq = r.seq WHERE "
            + " AND ".join(where) + " ORDER BY r.seq"
        )
        for seq, t_wall, epoch, kind, source, severity, prev, ct in self._conn.execute(
            sql, params
        ):
            aead = self._keys.get(epoch)
            if aead is None:
                continue
            header = Header(seq, t_wall, epoch, kind, source, severity, bytes(prev))
            try:
                yield open_record(aead, header, bytes(ct))
            except InvalidTag:
                raise EdgewardenError(
                    f"{self.layout.database}: record {seq} fails its AEAD tag (altered)"
                ) from None

    def media(self, ref: MediaRef) -> bytes:
        return read_media(self.layout, self._identity, ref)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> HistoryReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
