"""Media files (snapshots, clips): age-encrypted to the store's recipients.

Each file is `media/<sha256 of the age ciphertext>.age`, created 0600 and fsynced before
its record can be appended, and readable with the standard tool:
`age -d -i identity.age media/<hash>.age`. Naming by the ciphertext hash lets `verify`
detect a replaced file without any key.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import pyrage

from controller.errors import EdgewardenError
from controller.store.layout import StoreLayout, fsync_dir, write_new_file
from controller.store.records import MediaRef

_CHUNK = 1 << 20
_MAX_CONTENT_TYPE = 100


def write_media(
    layout: StoreLayout, recipients: Sequence[pyrage.x25519.Recipient], data: bytes,
    content_type: str,
) -> MediaRef:
    """Encrypt and durably store one media file; returns its reference."""
    if not content_type or len(content_type) > _MAX_CONTENT_TYPE:
        raise ValueError("media content_type must be a short non-empty string")
    ct = pyrage.encrypt(bytes(data), list(recipients))
    sha = hashlib.sha256(ct).hexdigest()
    final = layout.media_file(sha)
    # written under a temporary name and renamed when durable: a process killed mid-write
    # leaves a `.part` file (removed at the next start), never a file under a hash name
    part = final.with_name(final.name + ".part")
    with contextlib.suppress(FileNotFoundError):
        part.unlink()
    write_new_file(part, ct)
    os.rename(part, final)
    fsync_dir(final.parent)
    return MediaRef(sha, content_type, len(data))


def orphans(layout: StoreLayout, referenced: set[str]) -> list[Path]:
    """Files in the media directory that no stored media row names (left by a crash
    between writing a file and committing its record, or by an interrupted shed)."""
    try:
        names = os.listdir(layout.media_dir)
    except FileNotFoundError:
        return []
    found = []
    for name in sorted(names):
        sha = name[: -len(".age")] if name.endswith(".age") else None
        if sha is None or sha not in referenced:
            path = layout.media_dir / name
            if path.is_file() and not path.is_symlink():
                found.append(path)
    return found


def remove_partial(layout: StoreLayout) -> int:
    """Delete media files a killed process left half-written; how many."""
    count = 0
    if layout.media_dir.is_dir():
        for path in layout.media_dir.glob("*.age.part"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                count += 1
    return count


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def read_media(layout: StoreLayout, identity: pyrage.x25519.Identity, ref: MediaRef) -> bytes:
    """Decrypt a media file after checking it is the one the record names."""
    path = layout.media_file(ref.sha256)
    try:
        ct = path.read_bytes()
    except FileNotFoundError:
        raise EdgewardenError(f"{path}: media file missing (shed or expired?)") from None
    if hashlib.sha256(ct).hexdigest() != ref.sha256:
        raise EdgewardenError(f"{path}: media file does not match its record (replaced?)")
    try:
        return bytes(pyrage.decrypt(ct, [identity]))
    except pyrage.DecryptError:
        raise EdgewardenError(f"{path}: cannot decrypt with this identity") from None
