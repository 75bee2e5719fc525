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


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_private_dir(path: Path) -> None:
    """mkdir 0700 (parents too); an existing directory must not be open to others."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise EdgewardenError(f"{path}: directory is open to other users (mode {mode:o})")
    fsync_dir(path.parent)


def write_new_file(path: Path, data: bytes) -> None:
    """Create `path` 0600 (refusing to overwrite), write, fsync file and directory."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)


def replace_secret(path: Path, data: bytes) -> None:
    """Durably replace a secret file, overwriting the old contents before the rename."""
    tmp = path.with_name(path.name + ".new")
    written = False
    if tmp.exists():
        # a retry after a failed attempt: the same bytes already durable there may be the
        # only copy (the old file zeroed); a torn write of them is replaced
        written = tmp.read_bytes() == data
        if not written:
            tmp.unlink()
    if not written:
        try:
            write_new_file(tmp, data)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()  # a full disk: leave no torn file behind
            raise
    if path.exists():
        size = path.stat().st_size
        with open(path, "r+b") as old:
            old.write(bytes(size))
            old.flush()
            os.fsync(old.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


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
