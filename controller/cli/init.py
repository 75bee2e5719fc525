"""`edgewarden init`: create the device's keys and data directory."""

from __future__ import annotations

import argparse

from controller.errors import EdgewardenError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "init",
        help="create the device's keys and data directory",
        description="Create the device's keys and data directory.",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise EdgewardenError("not available in this version yet (issue 3)")
