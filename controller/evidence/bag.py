"""The BagIt tag files of a bundle (RFC 8493), written from digests the export already has.

bagit's make_bag would hash the whole payload once more and chdir the whole process (the
service exports from a worker thread), so the export writes the four tag files itself:
bagit.txt, bag-info.txt, manifest-sha256.txt and tagmanifest-sha256.txt. The bagit library
(and `bagit.py --validate`) reads and checks the result like any other bag.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from pathlib import Path

from controller.store.layout import write_new_file

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
ALGORITHM = "sha256"
PAYLOAD_MANIFEST = f"manifest-{ALGORITHM}.txt"
TAG_MANIFEST = f"tagmanifest-{ALGORITHM}.txt"
TAG_FILES = ("bagit.txt", "bag-info.txt", PAYLOAD_MANIFEST)
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
_SAFE_VALUE = re.compile(r"[\r\n]")


def _write_synced(path: Path, data: bytes) -> str:
    """Create ``path`` 0600 (never overwrite), fsynced; its SHA-256."""
    write_new_file(path, data)
    return hashlib.sha256(data).hexdigest()


def write_tag_files(
    root: Path, payload: Mapping[str, tuple[str, int]], info: Mapping[str, str],
    now: float | None = None,
) -> None:
    """Make ``root`` (with its payload already under data/) a complete bag.

    ``payload`` maps each path relative to data/ to (sha256 hex, size in bytes). The tag
    manifest is written last: a bag cut short before it is visibly incomplete.
    """
    lines = []
    total = 0
    for rel in sorted(payload):
        if not _SAFE_PATH.match(rel):
            raise ValueError(f"payload path {rel!r} needs percent-encoding; not expected here")
        digest, size = payload[rel]
        lines.append(f"{digest}  data/{rel}\n")
        total += size
    tags = {
        "Bag-Software-Agent": "edgewarden",
        "Bagging-Date": time.strftime("%Y-%m-%d", time.gmtime(now)),
        **info,
        "Payload-Oxum": f"{total}.{len(payload)}",
    }
    bag_info = "".join(f"{k}: {_SAFE_VALUE.sub(' ', v)}\n" for k, v in sorted(tags.items()))
    digests = {
        "bagit.txt": _write_synced(root / "bagit.txt", BAGIT_TXT),
        "bag-info.txt": _write_synced(root / "bag-info.txt", bag_info.encode("utf-8")),
        PAYLOAD_MANIFEST: _write_synced(root / PAYLOAD_MANIFEST,
                                        "".join(lines).encode("utf-8")),
    }
    _write_synced(root / TAG_MANIFEST, "".join(
        f"{digests[name]}  {name}\n" for name in TAG_FILES).encode("utf-8"))
