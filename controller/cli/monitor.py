"""`edgewarden monitor`: print readings and rejected frames from a serial port."""

from __future__ import annotations

import argparse

from controller.errors import EdgewardenError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "monitor",
        help="print readings and rejected frames from a serial port",
        description="Print readings and rejected frames from a serial port.",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise EdgewardenError("not available in this version yet (issue 2)")
