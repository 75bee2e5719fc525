"""`edgewarden simulate-node`: run the reference node firmware on a pty."""

from __future__ import annotations

import argparse

from controller.errors import EdgewardenError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "simulate-node",
        help="run the reference node firmware on a pty",
        description="Run the reference node firmware on a pty.",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise EdgewardenError("not available in this version yet (issue 2)")
