"""`edgewarden status`: print the running service's state (through the control socket)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from controller.config import DEFAULT_CONFIG_PATH, Config, load_config
from controller.control.address import socket_path
from controller.control.client import ControlClient


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "status",
        help="print the running service's state",
        description="Print the running service's state through its control socket "
        "(needs the edgewarden-view role or higher).",
    )
    p.add_argument("--config", type=Path, default=None,
                   help=f"config file (default {DEFAULT_CONFIG_PATH} when it exists)")
    p.add_argument("--socket", type=Path, default=None,
                   help="control socket (default: from the config)")
    p.add_argument("--json", action="store_true", help="print the raw status as JSON")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait (default 5)")
    p.set_defaults(handler=run)


def config_for(path: Path | None) -> Config:
    """The given config, else the installed one, else the defaults."""
    if path is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    return load_config(path)


def run(args: argparse.Namespace) -> int:
    path = args.socket or socket_path(config_for(args.config))
    with ControlClient(path, timeout=args.timeout) as client:
        state = client.call("status")
    if args.json:
        print(json.dumps(state, indent=2, sort_keys=True))
        return 0
    print_status(state, Console())
    return 0


def print_status(state: Any, console: Console) -> None:
    """Scalars as a key/value table; lists of objects (nodes, cameras) as their own tables."""
    if not isinstance(state, dict):
        console.print(state)
        return
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column()
    nested: list[tuple[str, list[dict[str, Any]]]] = []
    for key, value in state.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            nested.append((key, value))
        elif isinstance(value, dict):
            summary.add_row(key, ", ".join(f"{k}={v}" for k, v in value.items()))
        elif isinstance(value, list):
            summary.add_row(key, ", ".join(map(str, value)) or "none")
        else:
            summary.add_row(key, str(value))
    console.print(summary)
    for title, rows in nested:
        table = Table(title=title, title_justify="left")
        columns = list(dict.fromkeys(k for row in rows for k in row))
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(str(row.get(c, "")) for c in columns))
        console.print(table)
