"""`edgewarden verify`: check the record store's hash chain, seals and tags."""

from __future__ import annotations

import argparse

from controller.errors import EdgewardenError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify",
        help="check the record store's hash chain, seals and tags",
        description="Check the record store's hash chain, seals and tags.",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise EdgewardenError("not available in this version yet (issue 3)")
