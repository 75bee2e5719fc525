"""Audit records left for the running service by a CLI that may not open the store.

The store has one writer. A CLI export beside a running service that it cannot route
through the service (a redacted export needs the identity, which the service never holds;
a USB stick export runs from udev) writes its audit body here, as one 0600 JSON file in
`data_dir/audit-inbox/` (0700); the service stores each as an audit record and deletes the
file once the record is durable. A service that is down finds them at its next start.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from controller.store.layout import make_private_dir, write_new_file

log = logging.getLogger(__name__)
INBOX = "audit-inbox"
_MAX_BYTES = 256 * 1024


def inbox_dir(data_dir: Path | str) -> Path:
    return Path(data_dir) / INBOX


def leave(data_dir: Path | str, body: dict[str, Any]) -> Path:
    """Write one audit body for the service to store."""
    folder = inbox_dir(data_dir)
    make_private_dir(folder)
    path = folder / f"{time.time_ns()}-{os.getpid()}.json"
    write_new_file(path, json.dumps(body, sort_keys=True).encode("utf-8"))
    return path


def waiting(data_dir: Path | str) -> list[tuple[Path, dict[str, Any]]]:
    """The audit bodies left so far, oldest first; unreadable files are skipped (logged)."""
    folder = inbox_dir(data_dir)
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    except FileNotFoundError:
        return []
    found: list[tuple[Path, dict[str, Any]]] = []
    for name in names:
        path = folder / name
        try:
            if path.stat().st_size > _MAX_BYTES:
                raise ValueError("too large")
            body = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except (OSError, ValueError) as exc:
            log.warning("%s: audit left for the service is unreadable (%s)", path, exc)
            continue
        found.append((path, body))
    return found
