"""`edgewarden demo`: run the service with simulated nodes and a video file, no hardware."""

from __future__ import annotations

import argparse

from controller.errors import EdgewardenError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the service with simulated nodes and a video file, no hardware",
        description="Run the service with simulated nodes and a video file, no hardware.",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise EdgewardenError("not available in this version yet (issue 2)")
