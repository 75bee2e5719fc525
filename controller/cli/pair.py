"""`edgewarden pair`: provision a key to a sensor node in pairing mode."""

from __future__ import annotations

import argparse

from controller.errors import EdgewardenError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "pair",
        help="provision a key to a sensor node in pairing mode",
        description="Provision a key to a sensor node in pairing mode.",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise EdgewardenError("not available in this version yet (issue 2)")
