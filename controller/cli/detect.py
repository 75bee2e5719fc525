"""`edgewarden detect`: run the camera detection pipeline on a recording."""

from __future__ import annotations

import argparse

from controller.errors import EdgewardenError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "detect",
        help="run the camera detection pipeline on a recording",
        description="Run the camera detection pipeline on a recording.",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise EdgewardenError("not available in this version yet (issue 6)")
