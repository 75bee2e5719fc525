"""`edgewarden run`: the headless service that systemd starts."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from controller.config import DEFAULT_CONFIG_PATH, load_config
from controller.system.journal import setup_logging


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="run the headless service (systemd starts this)",
        description="Run the headless service: serial nodes, anomaly rules, record store, "
        "cameras, health and the local control socket. SIGTERM flushes and seals; SIGHUP "
        "reloads the config (a bad one is refused and the old one keeps running).",
    )
    p.add_argument("--config", type=Path, default=None,
                   help=f"config file (default {DEFAULT_CONFIG_PATH} when it exists)")
    p.add_argument("--seconds", type=float, default=None,
                   help="stop cleanly after this many seconds (tests, benchmarks)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from controller.service import Service

    path = args.config
    if path is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    cfg = load_config(path)
    setup_logging(args.verbose)
    service = Service(cfg, path)
    asyncio.run(service.run(seconds=args.seconds))
    return 0
