"""`edgewarden vehicles add|remove|list|import|export`: the vehicle register, via the service.

Changes go through the control socket (admin role) so the service saves and audits
them; `list` and `export` need the ops role. An import CSV is checked here first, so a
bad row is reported with the file and row before anything is sent, and the service
applies the whole file or none of it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from controller.cli.status import config_for
from controller.config import DEFAULT_CONFIG_PATH
from controller.control.address import socket_path
from controller.control.client import ControlClient
from controller.control.schema import VehicleEntry, VehicleList, VehiclesImported, decode_reply
from controller.errors import UsageError
from controller.plates.register import LISTS, PRIORITIES, format_csv, make_entry, parse_csv


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("vehicles", help="manage the vehicle register (allow/watch/deny)",
                       description="The vehicle register of the running service: plates on "
                       "the allow, watch or deny list. Changes need the admin role.")
    p.add_argument("--config", type=Path, default=None,
                   help=f"config file (default {DEFAULT_CONFIG_PATH} when it exists)")
    p.add_argument("--socket", type=Path, default=None,
                   help="control socket (default: from the config)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a plate to a list")
    add.add_argument("plate")
    add.add_argument("--list", required=True, choices=LISTS, dest="list_name")
    add.add_argument("--label", default="")
    add.add_argument("--note", default="")
    add.add_argument("--priority", default="", choices=("", *PRIORITIES),
                     help="alarm priority of a hit (default: watch high, deny critical)")
    add.add_argument("--replace", action="store_true", help="overwrite the plate's entry")
    rm = actions.add_parser("remove", help="remove a plate")
    rm.add_argument("plate")
    ls = actions.add_parser("list", help="print the register")
    ls.add_argument("--json", action="store_true", help="print the entries as JSON")
    imp = actions.add_parser("import", help="add or replace entries from a CSV file")
    imp.add_argument("file", type=Path, help="CSV with header plate,list[,label,note,priority]")
    exp = actions.add_parser("export", help="write the register as CSV")
    exp.add_argument("file", type=Path, help="CSV file to write (- for stdout)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    request: tuple[str, dict[str, Any]]
    if args.action == "add":
        request = ("vehicles.add", {"plate": args.plate, "list": args.list_name,
                                    "label": args.label, "note": args.note,
                                    "priority": args.priority, "replace": args.replace})
    elif args.action == "remove":
        request = ("vehicles.remove", {"plate": args.plate})
    elif args.action == "import":
        try:
            text = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{args.file}: cannot read: {exc}") from None
        parse_csv(text, str(args.file))  # a bad row: file and row, before anything is sent
        request = ("vehicles.import", {"csv": text, "source": str(args.file)})
    else:
        request = ("vehicles.list", {})
    path = args.socket or socket_path(config_for(args.config))
    cmd, request_args = request
    with ControlClient(path) as client:
        raw = client.call(cmd, request_args)
    if args.action in ("add", "remove"):
        entry = decode_reply(cmd, raw, VehicleEntry)
        done = "on the" if args.action == "add" else "removed from the"
        print(f"{entry.plate}: {done} {entry.list} list")
        return 0
    if args.action == "import":
        print(f"{decode_reply(cmd, raw, VehiclesImported).imported} entries imported from "
              f"{args.file}")
        return 0
    result = decode_reply(cmd, raw, VehicleList)
    entries = [make_entry(e.plate, e.list, e.label, e.note, e.priority) for e in result.entries]
    if args.action == "export":
        csv_text = format_csv(entries)
        if str(args.file) == "-":
            sys.stdout.write(csv_text)
        else:
            try:
                args.file.write_text(csv_text, encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"{args.file}: cannot write: {exc}") from None
            print(f"{len(entries)} entries written to {args.file}")
    elif args.json:
        print(json.dumps(raw["entries"], indent=2))
    else:
        table = Table(title=f"vehicle register ({len(entries)} entries)")
        for column in ("plate", "list", "label", "note", "priority"):
            table.add_column(column)
        for e in entries:
            table.add_row(e.plate, e.list, e.label, e.note, e.priority or e.alarm_priority)
        Console().print(table)
    return 0
