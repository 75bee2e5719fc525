"""`edgewarden doctor`: check this device's setup."""

from __future__ import annotations

import argparse

from controller.errors import EdgewardenError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "doctor", help="check this device's setup", description="Check this device's setup."
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise EdgewardenError("not available in this version yet (issue 5)")
