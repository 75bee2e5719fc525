"""`edgewarden anomaly`: replay and explain anomaly rules on recorded data."""

from __future__ import annotations

import argparse

from controller.errors import EdgewardenError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "anomaly",
        help="replay and explain anomaly rules on recorded data",
        description="Replay and explain anomaly rules on recorded data.",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise EdgewardenError("not available in this version yet (issue 4)")
