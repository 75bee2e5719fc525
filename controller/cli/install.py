"""`edgewarden install`: lay out systemd units, udev rules, config skeleton, users, groups."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from controller.system.install import default_exec_path, install


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "install",
        help="lay out systemd units, udev rules and config",
        description="Lay out the systemd units, udev rules, a commented config skeleton, "
        "the edgewarden user and the edgewarden-view/ops/admin groups. Safe to run again: "
        "only what differs is written, and an existing config is never overwritten.",
    )
    p.add_argument("--destdir", type=Path, default=None,
                   help="install under this root instead of / (no users or groups)")
    p.add_argument("--config-label", dest="label", default=None, metavar="LABEL",
                   help="filesystem label of the export stick (default: export.stick_label "
                   "of the installed config, else EDGEWARDEN)")
    p.add_argument("--exec", dest="exec_path", default=None, metavar="PATH",
                   help="edgewarden executable the units run (default: this one)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    destdir = args.destdir.resolve() if args.destdir else None
    exec_path = args.exec_path or default_exec_path()
    changes = install(destdir, args.label, exec_path)
    console = Console()
    console.print(f"the units run {exec_path}", highlight=False)
    staged = destdir / exec_path.lstrip("/") if destdir else None
    if not Path(exec_path).is_file() and not (staged and staged.is_file()):
        Console(stderr=True).print(
            f"[yellow]warning:[/] {exec_path} does not exist: the service will not start "
            "until it does (give --exec PATH)", highlight=False)
    table = Table(show_header=False, box=None)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    table.add_column(overflow="fold")
    styles = {"created": "green", "updated": "yellow", "unchanged": "dim", "kept": "dim",
              "skipped": "dim"}
    for c in changes:
        shown = str(destdir / c.what.lstrip("/")) if destdir and c.what.startswith("/") else c.what
        table.add_row(f"[{styles[c.action]}]{c.action}[/]", shown, c.note)
    console.print(table)
    if all(c.action in ("unchanged", "kept", "skipped") for c in changes):
        console.print("Already installed: nothing changed.")
    elif destdir is None:
        console.print("Next: add people to edgewarden plus edgewarden-view/-ops/-admin, "
                      "run `edgewarden init`, then `systemctl enable --now edgewarden`.")
    return 0
