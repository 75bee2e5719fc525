"""Where the writer leaves its checkpoints: `checkpoint.txt` in the data directory.

After every commit that adds a seal the writer signs the new head and replaces the
file (0600, like every file there; an admin copies it off the device: `sudo cat`).
The file is derived data: it is rewritten from the last seal at every start, so it is
replaced without an fsync of its own (a power cut leaves the previous checkpoint).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.errors import EdgewardenError
from controller.store.checkpoint import (
    Checkpoint,
    CheckpointError,
    SealHead,
    compare,
    parse,
    sign,
)
from controller.store.layout import StoreLayout
from controller.store.sealing import Seal

log = logging.getLogger(__name__)
CHECKPOINT_NAME = "checkpoint.txt"


def checkpoint_path(layout: StoreLayout) -> Path:
    return layout.data_dir / CHECKPOINT_NAME


class CheckpointPublisher:
    """Signs each new chain head and replaces checkpoint.txt with it."""

    def __init__(self, layout: StoreLayout, store_id: str,
                 key: Ed25519PrivateKey | None) -> None:
        self._path = checkpoint_path(layout)
        self._store_id = store_id
        self._key = key
        self._failed = False
        self.latest: str | None = None
        self.latest_head: Checkpoint | None = None

    @classmethod
    def for_store(cls, layout: StoreLayout, store_id: str) -> CheckpointPublisher:
        try:
            pem = layout.signing_key.read_bytes()
        except FileNotFoundError:
            return cls(layout, store_id, None)
        except OSError as exc:
            raise EdgewardenError(f"{layout.signing_key}: cannot read the signing key "
                                  f"({exc.strerror})") from None
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            key = None
        if not isinstance(key, Ed25519PrivateKey):
            raise EdgewardenError(f"{layout.signing_key}: not an Ed25519 PKCS#8 PEM key")
        return cls(layout, store_id, key)

    def publish_latest(self, conn: sqlite3.Connection) -> None:
        """At start: the file again states the store's last seal."""
        seal = last_seal(conn)
        if seal is not None:
            self.publish(seal)

    def publish(self, seal: Seal) -> None:
        if self._key is None:
            return
        cp = Checkpoint(self._store_id, seal.seal_no, seal.last_seq, seal.last_hash,
                        seal.epoch, seal.t_wall)
        text = sign(cp, self._key)
        tmp = self._path.with_name(f".{CHECKPOINT_NAME}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
                         | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
            os.replace(tmp, self._path)
        except OSError as exc:
            if not self._failed:
                log.warning("%s: checkpoint not written (%s)", self._path, exc.strerror)
            self._failed = True
            return
        self._failed = False
        self.latest, self.latest_head = text, cp

    def status(self) -> dict[str, Any] | None:
        """For `status` and the dashboard: the head the file states, and where it is."""
        cp = self.latest_head
        if cp is None:
            return None
        return {"file": str(self._path), "seal": cp.seal_no, "record": cp.seq,
                "epoch": cp.epoch, "time": cp.t_wall, "head": cp.head.hex(),
                "text": self.latest}


def read_checkpoint(path: Path, public_key_hex: str) -> Checkpoint:
    """A checkpoint file a user kept; a clear error naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EdgewardenError(f"{path}: no such checkpoint file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EdgewardenError(f"{path}: cannot read the checkpoint ({exc})") from None
    try:
        return parse(text, public_key_hex)
    except CheckpointError as exc:
        raise EdgewardenError(f"{path}: {exc}") from None


def check_against(
    files: list[Path], public_key_hex: str, store_id: str, seals: list[Seal], what: str,
) -> list[str]:
    """Why `seals` (a store's or a bundle's) do not contain each kept checkpoint."""
    by_no = {s.seal_no: s for s in seals}
    last = seals[-1].seal_no if seals else 0

    def seal_at(n: int) -> SealHead | None:
        s = by_no.get(n)
        return None if s is None else SealHead(s.seal_no, s.epoch, s.last_seq, s.last_hash)

    problems: list[str] = []
    for path in files:
        try:
            cp = read_checkpoint(path, public_key_hex)
        except EdgewardenError as exc:
            problems.append(f"checkpoint {exc}")
            continue
        why = compare(cp, store_id, last, seal_at, what)
        if why is not None:
            problems.append(f"checkpoint {path}: {why}")
    return problems


def device_head(layout: StoreLayout, public_key_hex: str, seals: list[Seal]) -> str | None:
    """The device's checkpoint.txt when it is signed and states the store's last seal."""
    if not seals:
        return None
    try:
        text = checkpoint_path(layout).read_text(encoding="utf-8")
        cp = parse(text, public_key_hex)
    except (OSError, UnicodeDecodeError, CheckpointError):
        return None
    s = seals[-1]
    if (cp.seal_no, cp.seq, cp.head, cp.epoch) != (s.seal_no, s.last_seq, s.last_hash, s.epoch):
        return None
    return text


def last_seal(conn: sqlite3.Connection) -> Seal | None:
    row = conn.execute("SELECT seal_no, epoch, kind, last_seq, last_hash, t_wall, "
                       "prev_mac, mac FROM seals ORDER BY seal_no DESC LIMIT 1").fetchone()
    if row is None:
        return None
    n, e, k, ls, lh, tw, pm, m = row
    return Seal(n, e, k, ls, bytes(lh), tw, bytes(pm), bytes(m))


def head_checkpoint(s: Seal | None, store_id: str, key: Ed25519PrivateKey) -> str | None:
    """A signed checkpoint of the last seal an export's snapshot sees (None: no seal)."""
    if s is None:
        return None
    return sign(Checkpoint(store_id, s.seal_no, s.last_seq, s.last_hash, s.epoch, s.t_wall),
                key)


@dataclass
class BundleCheckpoints:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    head: str | None = None


def check_bundle(
    carried: bytes | None, files: list[Path], public_key_hex: str, store_id: str,
    seals: list[Seal],
) -> BundleCheckpoints:
    """A bundle's carried head checkpoint, and each kept checkpoint against the bundle.

    A bundle holds only its segment's seals, so a kept checkpoint is checked exactly when
    its seal is in the segment or is the head the bundle carries; one later than that head
    means the bundle came from an older (or rolled-back) store.
    """
    out = BundleCheckpoints()
    by_no = {s.seal_no: SealHead(s.seal_no, s.epoch, s.last_seq, s.last_hash) for s in seals}
    head: Checkpoint | None = None
    if carried is None:
        out.notes.append(f"the bundle carries no {CHECKPOINT_NAME} (made before checkpoints)")
    else:
        try:
            head = parse(carried.decode("utf-8", "replace"), public_key_hex)
        except CheckpointError as exc:
            out.problems.append(f"{CHECKPOINT_NAME}: {exc}")
        else:
            out.head = carried.decode()
            last = seals[-1].seal_no if seals else 0
            why = compare(head, store_id, max(last, head.seal_no), by_no.get, "bundle") \
                if head.seal_no in by_no or head.seal_no < last else None
            if head.seal_no < last:
                why = f"states seal {head.seal_no}, before the bundle's last seal {last}"
            if why is not None:
                out.problems.append(f"{CHECKPOINT_NAME}: {why}")
            if head.seal_no not in by_no:
                by_no[head.seal_no] = SealHead(head.seal_no, head.epoch, head.seq, head.head)
    top = head.seal_no if head is not None else (seals[-1].seal_no if seals else 0)
    first = seals[0].seal_no if seals else 0
    for path in files:
        try:
            cp = read_checkpoint(path, public_key_hex)
        except EdgewardenError as exc:
            out.problems.append(f"checkpoint {exc}")
            continue
        if cp.seal_no < first or (cp.seal_no not in by_no and cp.seal_no < top):
            if cp.store_id != store_id:
                out.problems.append(f"checkpoint {path}: is a checkpoint of another store")
            else:
                out.notes.append(f"checkpoint {path}: seal {cp.seal_no} lies outside the "
                                 f"bundle's seals; only that the store's head at export "
                                 f"(seal {top}) came after it is checked")
            continue
        why = compare(cp, store_id, top, by_no.get, "bundle")
        if why is not None:
            out.problems.append(f"checkpoint {path}: {why}")
    return out
