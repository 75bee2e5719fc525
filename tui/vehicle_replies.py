"""The service's replies to the ``vehicles.*`` commands, read in one place.

Each reply is read into the register's own `Entry` (controller.plates.register), checked
as the service checks entries, so a reply of another shape is one clear
:class:`ReplyMismatch` and the screen never shows half an entry. When the control socket's
replies get typed structures, only these functions change.
"""

from __future__ import annotations

from typing import Any

from controller.plates.register import Entry, RegisterError, entry_from_json


class ReplyMismatch(ValueError):
    """A ``vehicles.*`` reply this client cannot read (another release of the service)."""


def parse_entry(raw: Any, cmd: str = "vehicles") -> Entry:
    """One entry: the reply of ``vehicles.add`` and ``vehicles.remove``."""
    try:
        return entry_from_json(raw)
    except RegisterError as exc:
        raise ReplyMismatch(f"{cmd}: the service's entry does not read ({exc})") from None


def parse_register(raw: Any) -> tuple[Entry, ...]:
    """``vehicles.list``: ``{"entries": [...]}``, by plate as the service sorts them."""
    entries = raw.get("entries") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise ReplyMismatch("vehicles.list: the reply has no list of entries")
    return tuple(parse_entry(e, "vehicles.list") for e in entries)


def add_args(entry: Entry, replace: bool) -> dict[str, Any]:
    """The ``vehicles.add`` request for `entry` (replace: overwrite the plate's entry)."""
    return {"plate": entry.plate, "list": entry.list, "label": entry.label,
            "note": entry.note, "priority": entry.priority, "replace": replace}
