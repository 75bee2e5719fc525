"""`edgewarden export`: write an evidence bundle (BagIt) to a directory."""

from __future__ import annotations

import argparse

from controller.errors import EdgewardenError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="write an evidence bundle (BagIt) to a directory",
        description="Write an evidence bundle (BagIt) to a directory.",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise EdgewardenError("not available in this version yet (issue 8)")
