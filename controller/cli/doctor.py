"""`edgewarden doctor`: check this device's setup (PASS/WARN/FAIL, exit 1 on any FAIL)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from controller.config import DEFAULT_CONFIG_PATH, Config, load_config
from controller.system.doctor import Check, run_checks


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "doctor", help="check this device's setup",
        description="Check users and groups, permissions, serial ports, each camera's "
        "source, the detector model, keys, that the service can write its data directory, "
        "free space, clock sync, the service and the forwarder's MQTT broker. "
        "Exit status 1 when any check fails.",
    )
    p.add_argument("--config", type=Path, default=None,
                   help=f"config file (default {DEFAULT_CONFIG_PATH} when it exists)")
    p.set_defaults(handler=run)


def check_broker(cfg: Config) -> Check:
    """The [forward] broker: reachable, TLS verifies, credentials accepted."""
    if not cfg.forward.url:
        return Check("MQTT broker", "PASS", "no forwarder configured ([forward] url unset)")
    import asyncio

    from controller.errors import EdgewardenError
    from controller.forward.broker import probe, settings_from
    from controller.forward.topics import Topics

    try:
        settings = settings_from(cfg.forward, cfg.device.name)
    except EdgewardenError as exc:
        return Check("MQTT broker", "FAIL", str(exc))
    problem = asyncio.run(probe(settings, Topics(cfg.forward.topic_prefix, cfg.device.name)))
    if problem is not None:
        return Check("MQTT broker", "FAIL", problem)
    who = f" as {settings.username}" if settings.username else ""
    return Check("MQTT broker", "PASS", f"{settings.address} accepts the forwarder{who}")


def run(args: argparse.Namespace) -> int:
    path = args.config
    if path is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    cfg = load_config(path)
    checks = [*run_checks(cfg, path), check_broker(cfg)]
    table = Table(title="edgewarden doctor", title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("detail", overflow="fold")
    style = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red"}
    for c in checks:
        table.add_row(c.name, f"[{style[c.status]}]{c.status}[/]", c.detail)
    Console().print(table)
    return 1 if any(c.status == "FAIL" for c in checks) else 0
