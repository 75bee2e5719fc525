"""The register on disk: one JSON file, replaced atomically (0600), read at start-up."""

from __future__ import annotations

import json
from pathlib import Path

from controller.atomic_file import write_atomic
from controller.errors import EdgewardenError
from controller.plates.register import Register, RegisterError, entry_from_json

FILE_NAME = "vehicles.json"


def load(path: Path) -> Register:
    """The register stored at `path` (empty when the file does not exist yet)."""
    if not path.exists():
        return Register()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Register(entry_from_json(item) for item in data["entries"])
    except (OSError, ValueError, KeyError, TypeError, RegisterError) as exc:
        raise EdgewardenError(f"{path}: vehicle register unreadable: {exc}") from None


def save(path: Path, register: Register) -> None:
    """Replace the file with the register (temp file, fsync, rename, directory fsync)."""
    body = {"version": 1, "entries": [e.as_json() for e in register.entries()]}
    write_atomic(path, (json.dumps(body, indent=1) + "\n").encode(), mode=0o600)
