"""`edgewarden tui`: open the Textual admin interface on the service's control socket."""

from __future__ import annotations

import argparse
from pathlib import Path

from controller.config import load_config
from controller.errors import UsageError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "tui",
        help="open the Textual admin interface",
        description="Open the Textual admin interface (a client of the control socket).",
    )
    p.add_argument("--config", type=Path, default=None,
                   help="config file (for the socket path; default: built-in defaults)")
    p.add_argument("--socket", type=Path, default=None,
                   help="control socket (default: <device.runtime_dir>/<control.socket_name>)")
    p.add_argument("--idle-lock", type=float, default=300.0, metavar="SECONDS",
                   help="forget the unlocked history identity after this idle time")
    p.set_defaults(handler=run)


def socket_path(args: argparse.Namespace) -> Path:
    if args.socket is not None:
        return Path(args.socket)
    cfg = load_config(args.config)
    return cfg.device.runtime_dir / cfg.control.socket_name


def run(args: argparse.Namespace) -> int:
    path = socket_path(args)
    if args.idle_lock <= 0:
        raise UsageError("--idle-lock: must be a positive number of seconds")
    # ask the terminal what it can draw now, on a thread, while Textual imports (stdlib only)
    from tui import terminal_graphics

    terminal_graphics.start()
    from tui.app import run_app  # Textual loads only for this command

    run_app(path, idle_lock_s=args.idle_lock)
    return 0
