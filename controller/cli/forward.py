"""`edgewarden forward`: publish the service's alarms and events to an MQTT broker."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from controller.config import DEFAULT_CONFIG_PATH, load_config
from controller.control.address import socket_path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "forward",
        help="publish alarms, events and readings to an MQTT broker",
        description="Subscribe to the service's control socket and publish to the broker "
        "of the config's [forward] section, through an on-disk outbox (runs in the "
        "foreground, as edgewarden-forward.service does).",
    )
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH,
                   help=f"config file (default {DEFAULT_CONFIG_PATH})")
    p.add_argument("--socket", type=Path, default=None,
                   help="control socket (default: from the config)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from controller.cli import package_version
    from controller.forward.broker import settings_from
    from controller.forward.forwarder import Forwarder

    cfg = load_config(args.config)
    settings = settings_from(cfg.forward, cfg.device.name)
    # the forwarder's own lines (connected, errors) are what the journal should show
    logging.getLogger("controller.forward").setLevel(
        min(logging.INFO, logging.getLogger().getEffectiveLevel()))

    async def main() -> None:
        forwarder = Forwarder(cfg, settings, args.socket or socket_path(cfg),
                              version=package_version())
        task = asyncio.ensure_future(forwarder.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    return 0
