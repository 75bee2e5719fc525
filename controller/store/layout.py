"""Where the store keeps its files, and the careful ways secrets are written there.

Secret files are created 0600 with O_EXCL (never chmod after), directories 0700, and
every write is fsynced together with its directory so a power cut leaves either the old
or the new file. Erasing a key overwrites the old file in place before replacing it.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.atomic_file import fsync_dir, write_atomic, write_new
from controller.errors import EdgewardenError


@dataclass(frozen=True)
class StoreLayout:
    """Paths inside a device data directory (see KEYS.md)."""

    data_dir: Path

    @property
    def manifest(self) -> Path:
        return self.data_dir / "store.json"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def identity(self) -> Path:
        return self.keys_dir / "identity.age"

    @property
    def signing_key(self) -> Path:
        return self.keys_dir / "signing.key"

    @property
    def seal_state(self) -> Path:
        return self.keys_dir / "seal.key"

    @property
    def database(self) -> Path:
        return self.data_dir / "records.db"

    @property
    def reserve(self) -> Path:
        return self.data_dir / "reserve"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    def media_file(self, sha256: str) -> Path:
        return self.media_dir / f"{sha256}.age"


def make_private_dir(path: Path) -> None:
    """mkdir 0700 (parents too); an existing directory must not be open to others."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise EdgewardenError(f"{path}: directory is open to other users (mode {mode:o})")
    fsync_dir(path.parent)


def write_new_file(path: Path, data: bytes) -> None:
    """Create `path` 0600 (refusing to overwrite), write, fsync file and directory."""
    write_new(path, data, 0o600)


def replace_secret(path: Path, data: bytes) -> None:
    """Durably replace a secret file, overwriting the old contents before the rename.

    The new content is durable as `<name>.new` before the old is zeroed, so a crash in
    between leaves a readable `.new` (sealstate recovers from it). A retry after a failed
    attempt keeps a `.new` that already holds these bytes: with the old file zeroed it may
    be the only copy, and rewriting it on a full disk could lose it.
    """
    tmp = path.with_name(path.name + ".new")
    if tmp.exists() and tmp.read_bytes() == data:
        if path.exists():
            write_atomic(path, data, 0o600, scrub_old=True, temp=tmp.with_name(tmp.name + "2"))
        else:
            os.replace(tmp, path)
            fsync_dir(path.parent)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        return
    write_atomic(path, data, 0o600, scrub_old=True, temp=tmp)


def write_manifest(layout: StoreLayout, doc: dict[str, Any]) -> None:
    data = json.dumps(doc, indent=2, sort_keys=True).encode("utf-8") + b"\n"
    write_new_file(layout.manifest, data)


def read_manifest(layout: StoreLayout) -> dict[str, Any]:
    """The public description of the store; a clear error when the dir is not initialised."""
    try:
        doc = json.loads(layout.manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EdgewardenError(
            f"{layout.data_dir}: not an initialised data directory (run `edgewarden init`)"
        ) from None
    except (OSError, ValueError) as exc:
        raise EdgewardenError(f"{layout.manifest}: unreadable ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != 1:
        raise EdgewardenError(f"{layout.manifest}: unknown store format")
    return doc
