"""The vehicle register in the running service: changes by admins, saved, audited.

Each change is saved durably (atomic replace) before it is answered and leaves an audit
record naming the plate, the list and who changed it (the plate is inside the record's
encrypted body, like every record's content). A change that cannot be saved is undone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller.control import schema
from controller.control.commands import Call, CommandError
from controller.errors import EdgewardenError, UsageError
from controller.plates import register_file
from controller.plates.register import Entry, Register, RegisterError, make_entry, parse_csv

Audit = Callable[[str, dict[str, Any]], None]


class VehicleRegister:
    """The service's register: the entries in memory, the file on disk, every change audited."""

    def __init__(self, path: Path, audit: Audit) -> None:
        self.path = path
        self._audit = audit
        self._lock = threading.Lock()  # the plate stage reads from camera threads
        self.register = register_file.load(path)

    def snapshot(self) -> Register:
        with self._lock:
            return Register(self.register.entries())

    def _commit(self, change: Callable[[Register], Any]) -> Any:
        with self._lock:
            before = self.register.entries()
            try:
                result = change(self.register)
                register_file.save(self.path, self.register)
            except (RegisterError, UsageError) as exc:
                self.register = Register(before)
                raise CommandError(str(exc)) from None
            except (OSError, EdgewardenError) as exc:
                self.register = Register(before)
                raise CommandError(f"vehicle register not saved: {exc}") from None
            return result

    def list(self, call: Call, args: dict[str, Any]) -> Any:
        return schema.to_wire(schema.VehicleList(
            entries=[_entry(e) for e in self.snapshot().entries()]))

    def add(self, call: Call, args: dict[str, Any]) -> Any:
        try:
            entry = make_entry(args["plate"], args["list"], args.get("label", ""),
                               args.get("note", ""), args.get("priority", ""))
        except RegisterError as exc:
            raise CommandError(str(exc)) from None
        self._commit(lambda reg: reg.add(entry, replace=bool(args.get("replace"))))
        self._audit("vehicles.add", {**entry.as_json(), "by": call.peer.uid})
        return schema.to_wire(_entry(entry))

    def remove(self, call: Call, args: dict[str, Any]) -> Any:
        entry = self._commit(lambda reg: reg.remove(args["plate"]))
        self._audit("vehicles.remove", {"plate": entry.plate, "list": entry.list,
                                        "by": call.peer.uid})
        return schema.to_wire(_entry(entry))

    def import_csv(self, call: Call, args: dict[str, Any]) -> Any:
        source = args.get("source") or "import"
        try:
            entries = parse_csv(args["csv"], source)
        except UsageError as exc:
            raise CommandError(str(exc)) from None
        count = self._commit(lambda reg: reg.import_entries(entries))
        self._audit("vehicles.import", {"source": source, "count": count,
                                        "plates": [e.plate for e in entries],
                                        "by": call.peer.uid})
        return schema.to_wire(schema.VehiclesImported(imported=count))


def _entry(entry: Entry) -> schema.VehicleEntry:
    return schema.VehicleEntry(plate=entry.plate, list=entry.list, label=entry.label,
                               note=entry.note, priority=entry.priority)
