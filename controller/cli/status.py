"""`edgewarden status`: print the running service's state (through the control socket)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from controller.cli.status_view import print_status
from controller.config import DEFAULT_CONFIG_PATH, Config, load_config
from controller.control.address import socket_path
from controller.control.client import ControlClient
from controller.control.schema import Status, decode_reply


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
    p.add_argument("--json", action="store_true",
                   help="print the service's status as JSON, unchanged (for scripts)")
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
    print_status(decode_reply("status", state, Status), Console())
    return 0
