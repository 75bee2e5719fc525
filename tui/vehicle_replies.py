"""The service's replies to the ``vehicles.*`` commands, read in one place.

Each reply is read into the register's own `Entry` (controller.plates.register), checked
as the service checks entries, so a reply of another shape is one clear
:class:`ReplyMismatch` and the screen never shows half an entry. They decode through the
shared schema (controller.control.schema) first.
"""

from __future__ import annotations

from typing import Any

from controller.control.schema import ReplyMismatch, VehicleEntry, VehicleList, decode_reply
from controller.plates.register import Entry, RegisterError, entry_from_json

__all__ = ["ReplyMismatch", "add_args", "parse_entry", "parse_register"]


def _entry(typed: VehicleEntry, cmd: str) -> Entry:
    try:
        return entry_from_json({f: getattr(typed, f) for f in typed.__struct_fields__})
    except RegisterError as exc:
        raise ReplyMismatch(f"{cmd}: the service's entry does not read ({exc})") from None


def parse_entry(raw: Any, cmd: str = "vehicles.add") -> Entry:
    """One entry: the reply of ``vehicles.add`` and ``vehicles.remove`` (schema.VehicleEntry)."""
    return _entry(decode_reply(cmd, raw, VehicleEntry), cmd)


def parse_register(raw: Any) -> tuple[Entry, ...]:
    """``vehicles.list`` (schema.VehicleList), by plate as the service sorts them."""
    return tuple(_entry(e, "vehicles.list")
                 for e in decode_reply("vehicles.list", raw, VehicleList).entries)


def add_args(entry: Entry, replace: bool) -> dict[str, Any]:
    """The ``vehicles.add`` request for `entry` (replace: overwrite the plate's entry)."""
    return {"plate": entry.plate, "list": entry.list, "label": entry.label,
            "note": entry.note, "priority": entry.priority, "replace": replace}
