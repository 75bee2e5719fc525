"""Node keys on disk: one 0600 file per node in a 0700 directory, plus a JSON registry.

The registry (`registry.json`) records which node uid owns which key file, under which
name, since when, and a key fingerprint (SHA-256 of the key, truncated; it does not reveal
the key). Every write is `controller.atomic_file.write_atomic` (temp file, fsync, rename,
directory fsync, 0600), so a power cut leaves either the old or the new registry, never half
of one.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from controller.atomic_file import write_atomic
from firmware_bridge.signing import KEY_LEN, SecretKey

REGISTRY_NAME = "registry.json"
_UID_RE = re.compile(r"^[0-9A-F]{16}$")


class KeystoreError(Exception):
    """A key store problem the user can act on (message names the file or node)."""


@dataclass(frozen=True)
class NodeRecord:
    uid: str
    name: str
    key_file: str  # file name inside the key directory
    fingerprint: str
    paired_at: str  # ISO 8601 UTC


def fingerprint(key: SecretKey) -> str:
    return hashlib.sha256(b"edgewarden key id" + key.reveal()).hexdigest()[:16]


def is_uid(text: str) -> bool:
    return bool(_UID_RE.match(text))


def read_key_file(path: Path) -> SecretKey:
    """Load a raw 32-byte key file; refuses files that others can read."""
    try:
        st = path.stat()
        raw = path.read_bytes()
    except FileNotFoundError:
        raise KeystoreError(f"{path}: no such key file") from None
    except OSError as exc:
        raise KeystoreError(f"{path}: cannot read key file ({exc.strerror})") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeystoreError(f"{path}: key file is readable by others (chmod 600 it)")
    if len(raw) != KEY_LEN:
        raise KeystoreError(f"{path}: not a node key (expected {KEY_LEN} bytes)")
    return SecretKey(raw)


class KeyStore:
    """The key directory of the controller (SerialConfig.keys_dir)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @property
    def registry_path(self) -> Path:
        return self.directory / REGISTRY_NAME

    def ensure_dir(self) -> None:
        """Create the directory 0700; refuse one that group or others can enter."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise KeystoreError(f"{self.directory}: cannot create key directory "
                                f"({exc.strerror})") from None
        mode = self.directory.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeystoreError(f"{self.directory}: key directory is open to others "
                                "(chmod 700 it)")

    def nodes(self) -> dict[str, NodeRecord]:
        path = self.registry_path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise KeystoreError(f"{path}: cannot read ({exc.strerror})") from None
        try:
            raw = json.loads(text)
            return {uid: NodeRecord(uid=uid, **rec) for uid, rec in raw["nodes"].items()}
        except (ValueError, KeyError, TypeError) as exc:
            raise KeystoreError(f"{path}: not a valid node registry ({exc})") from None

    def lookup(self, uid: str) -> NodeRecord | None:
        return self.nodes().get(uid)

    def load_key(self, uid: str) -> SecretKey | None:
        rec = self.lookup(uid)
        if rec is None:
            return None
        return read_key_file(self.directory / rec.key_file)

    def key_lookup(self, uid: str) -> tuple[SecretKey, str] | None:
        """(key, name) of a paired node, None if unpaired: what LinkManager's `keys` wants."""
        rec = self.lookup(uid)
        return (read_key_file(self.directory / rec.key_file), rec.name) if rec else None

    def check_can_pair(self, uid: str, name: str, replace: bool) -> NodeRecord | None:
        """Raise if pairing `uid` as `name` would silently replace something; return what
        `replace` would replace."""
        nodes = self.nodes()
        for other in nodes.values():
            if other.name == name and other.uid != uid:
                raise KeystoreError(f"name {name!r} is already used by node {other.uid}")
        existing = nodes.get(uid)
        if existing is not None and not replace:
            raise KeystoreError(
                f"node {uid} is already paired as {existing.name!r} (key {existing.fingerprint},"
                f" since {existing.paired_at}); pass --replace to give it a new key")
        return existing

    def add(self, uid: str, name: str, key: SecretKey, paired_at: str,
            replace: bool = False) -> NodeRecord | None:
        """Store `key` for `uid`; returns the record it replaced (only with replace=True)."""
        if not is_uid(uid):
            raise KeystoreError(f"{uid!r} is not a node uid (16 hex digits)")
        self.ensure_dir()
        old = self.check_can_pair(uid, name, replace)
        key_file = f"{uid}.key"
        write_atomic(self.directory / key_file, key.reveal(), 0o600)
        nodes = self.nodes()
        nodes[uid] = NodeRecord(uid, name, key_file, fingerprint(key), paired_at)
        self._write_registry(nodes)
        return old

    def _write_registry(self, nodes: dict[str, NodeRecord]) -> None:
        doc = {"version": 1, "nodes": {
            uid: {"name": r.name, "key_file": r.key_file, "fingerprint": r.fingerprint,
                  "paired_at": r.paired_at} for uid, r in sorted(nodes.items())}}
        write_atomic(self.registry_path, (json.dumps(doc, indent=2) + "\n").encode("utf-8"),
                     0o600)
